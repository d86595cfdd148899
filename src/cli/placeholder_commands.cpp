// Temporary: registration functions not yet implemented by their modules. Each module's command file
// replaces its entry here.
#include "cli/commands.h"

namespace mimir::cli {}  // namespace mimir::cli
