# Provides the target `mimir::llama` (llama + ggml, public C API) and the variable MIMIR_LLAMA_TOOLS_DIR
# (where llama.cpp's own tools live, for tests and benchmarks that compare against them).
#
# Order of preference:
#   1. an installed llama.cpp that CMake finds (find_package(llama));
#   2. MIMIR_LLAMA_SOURCE_DIR + MIMIR_LLAMA_BUILD_DIR: the pinned release, already built by
#      scripts/llama.sh into a cache outside the work tree (the normal path: every build directory,
#      including CI's fresh clone, links the same cached build instead of recompiling ggml);
#   3. MIMIR_LLAMA_SOURCE_DIR alone: llama.cpp built here as a CMake subproject.
set(MIMIR_LLAMA_SOURCE_DIR "" CACHE PATH "llama.cpp source tree (pinned release)")
set(MIMIR_LLAMA_BUILD_DIR "" CACHE PATH "llama.cpp build tree made by scripts/llama.sh")
set(MIMIR_LLAMA_TOOLS_DIR "" CACHE PATH "directory holding llama-bench, llama-completion, ...")

if(NOT MIMIR_LLAMA_SOURCE_DIR)
  find_package(llama CONFIG QUIET)
endif()

if(llama_FOUND)
  message(STATUS "mimir: using installed llama.cpp ${llama_VERSION}")
  add_library(mimir_llama INTERFACE)
  target_link_libraries(mimir_llama INTERFACE llama ggml::ggml)
elseif(MIMIR_LLAMA_SOURCE_DIR AND MIMIR_LLAMA_BUILD_DIR)
  message(STATUS "mimir: using cached llama.cpp build ${MIMIR_LLAMA_BUILD_DIR}")
  find_package(Threads REQUIRED)
  find_package(OpenMP REQUIRED)
  add_library(mimir_llama INTERFACE)
  target_include_directories(mimir_llama SYSTEM INTERFACE
    ${MIMIR_LLAMA_SOURCE_DIR}/include ${MIMIR_LLAMA_SOURCE_DIR}/ggml/include)
  set(_lib ${MIMIR_LLAMA_BUILD_DIR})
  foreach(_a src/libllama.a ggml/src/libggml.a ggml/src/libggml-cpu.a ggml/src/libggml-base.a)
    if(NOT EXISTS ${_lib}/${_a})
      message(FATAL_ERROR "mimir: ${_lib}/${_a} is missing; run scripts/llama.sh")
    endif()
  endforeach()
  # Static archives depend on each other, so the group lets the linker resolve in any order.
  target_link_libraries(mimir_llama INTERFACE
    -Wl,--start-group ${_lib}/src/libllama.a ${_lib}/ggml/src/libggml.a
    ${_lib}/ggml/src/libggml-cpu.a ${_lib}/ggml/src/libggml-base.a -Wl,--end-group
    OpenMP::OpenMP_CXX Threads::Threads ${CMAKE_DL_LIBS} m)
  # Always the tools of the build linked here: a build directory reconfigured against a new cached build
  # (another llama.cpp version or build flags) must not keep comparing against the old tools.
  set(MIMIR_LLAMA_TOOLS_DIR ${MIMIR_LLAMA_BUILD_DIR}/bin CACHE PATH "" FORCE)
elseif(MIMIR_LLAMA_SOURCE_DIR)
  message(STATUS "mimir: building llama.cpp as a subproject from ${MIMIR_LLAMA_SOURCE_DIR}")
  set(BUILD_SHARED_LIBS OFF CACHE BOOL "" FORCE)
  set(LLAMA_BUILD_TESTS OFF CACHE BOOL "" FORCE)
  set(LLAMA_BUILD_SERVER OFF CACHE BOOL "" FORCE)
  set(LLAMA_OPENSSL OFF CACHE BOOL "" FORCE)
  add_subdirectory(${MIMIR_LLAMA_SOURCE_DIR} llama.cpp EXCLUDE_FROM_ALL)
  add_library(mimir_llama INTERFACE)
  target_link_libraries(mimir_llama INTERFACE llama ggml)
else()
  message(FATAL_ERROR "mimir: no llama.cpp found. Run scripts/setup.sh, or pass -DMIMIR_LLAMA_SOURCE_DIR=<llama.cpp source>")
endif()
add_library(mimir::llama ALIAS mimir_llama)
