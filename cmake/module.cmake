# mimir_module(<name> [DEPS <targets...>]): one static library per src/<name>/ folder, made of every .cpp
# in it, with src/ on the include path (headers are included as "model/engine.h").
function(mimir_module name)
  cmake_parse_arguments(ARG "" "" "DEPS" ${ARGN})
  file(GLOB _sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.cpp)
  if(_sources)
    add_library(mimir_${name} STATIC ${_sources})
    target_link_libraries(mimir_${name} PUBLIC mimir_support ${ARG_DEPS})
    target_compile_options(mimir_${name} PRIVATE ${MIMIR_WARNINGS})
  else()
    add_library(mimir_${name} INTERFACE)
    target_link_libraries(mimir_${name} INTERFACE mimir_support ${ARG_DEPS})
  endif()
endfunction()

# mimir_test(<module> [DEPS <targets...>] [LABELS <labels...>]): one GoogleTest executable per tests/<module>/
# folder; each TEST becomes its own ctest entry.
function(mimir_test module)
  cmake_parse_arguments(ARG "" "" "DEPS;LABELS" ${ARGN})
  file(GLOB _sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.cpp)
  if(NOT _sources)
    return()
  endif()
  add_executable(${module}_tests ${_sources})
  target_link_libraries(${module}_tests PRIVATE mimir_${module} mimir_test_support ${ARG_DEPS} GTest::gtest_main)
  target_compile_options(${module}_tests PRIVATE ${MIMIR_WARNINGS})
  gtest_discover_tests(${module}_tests DISCOVERY_TIMEOUT 60 PROPERTIES LABELS "${module};${ARG_LABELS}")
endfunction()
