// Internal to the data module: the two FeedbackStore back ends open_feedback_store chooses between.
#pragma once

#include <memory>
#include <string>

#include "data/feedback_store.h"

namespace mimir::data {

// A SQLite file (WAL journal, synchronous=FULL so an acknowledged commit survives a kill or power cut).
Result<std::unique_ptr<FeedbackStore>> open_sqlite_feedback_store(const std::string& path);
// A PostgreSQL server named by a libpq URL (postgresql://user:password@host:port/db?host=/socket/dir).
Result<std::unique_ptr<FeedbackStore>> open_postgres_feedback_store(const std::string& url);

// `url` without its password (in the user part or a password= parameter), for logs and /api/status.
std::string url_without_password(const std::string& url);

}  // namespace mimir::data
