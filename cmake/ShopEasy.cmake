# Project-wide compiler settings and the two helpers every module uses:
# shopeasy_library() declares a module library, shopeasy_test() its GoogleTest
# binary, registered with CTest test by test.

# ccache, when installed, makes a rebuild of unchanged sources (a fresh build directory,
# CI's second configuration, switching branches) a cache lookup. An explicit
# -DCMAKE_CXX_COMPILER_LAUNCHER wins; -DSHOPEASY_CCACHE=OFF turns it off.
option(SHOPEASY_CCACHE "Compile through ccache when it is installed" ON)
if(SHOPEASY_CCACHE AND NOT CMAKE_CXX_COMPILER_LAUNCHER)
  find_program(SHOPEASY_CCACHE_PROGRAM ccache)
  if(SHOPEASY_CCACHE_PROGRAM)
    set(CMAKE_CXX_COMPILER_LAUNCHER ${SHOPEASY_CCACHE_PROGRAM})
  endif()
endif()

# mold links the ~60 programs and test binaries several times faster than GNU ld (each
# one carries the debug info of every library it pulls in); install-deps adds it.
# -DSHOPEASY_FAST_LINKER=OFF keeps the system linker.
option(SHOPEASY_FAST_LINKER "Link with mold when it is installed" ON)
if(SHOPEASY_FAST_LINKER AND CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  find_program(SHOPEASY_MOLD_PROGRAM mold)
  if(SHOPEASY_MOLD_PROGRAM)
    add_link_options(-fuse-ld=mold)
  endif()
endif()

# Debug information: line tables by default. They are what backtraces, sanitizer reports
# and profilers use; full information (variables and types, for a debugger) made each
# compile about a third slower on a 2-core machine. -DSHOPEASY_DEBUG_INFO=full restores it.
set(SHOPEASY_DEBUG_INFO "lines" CACHE STRING "Debug information: lines (-g1) or full (-g)")
set_property(CACHE SHOPEASY_DEBUG_INFO PROPERTY STRINGS lines full)
if(SHOPEASY_DEBUG_INFO STREQUAL "lines")
  foreach(config RELWITHDEBINFO DEBUG)
    string(REGEX REPLACE "(^| )-g( |$)" "\\1-g1\\2" CMAKE_CXX_FLAGS_${config}
                         "${CMAKE_CXX_FLAGS_${config}}")
  endforeach()
elseif(NOT SHOPEASY_DEBUG_INFO STREQUAL "full")
  message(FATAL_ERROR "SHOPEASY_DEBUG_INFO must be lines or full, not '${SHOPEASY_DEBUG_INFO}'")
endif()

add_compile_options(-Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wcast-align
                    -Woverloaded-virtual -Wimplicit-fallthrough)
if(SHOPEASY_WERROR)
  add_compile_options(-Werror)
endif()
if(SHOPEASY_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer
                      -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()

# shopeasy_library(<name> SOURCES ... [DEPS ...] [PRIVATE_DEPS ...])
# Creates static library shopeasy_<name> with alias shopeasy::<name>. Headers are
# included by their path from the repository root ("common/geohash/geohash.hpp").
function(shopeasy_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(shopeasy_${name} STATIC ${ARG_SOURCES})
  add_library(shopeasy::${name} ALIAS shopeasy_${name})
  target_include_directories(shopeasy_${name} PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(shopeasy_${name} PUBLIC ${ARG_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
endfunction()

# shopeasy_test(<name> [SINGLE_PROCESS] SOURCES ... [DEPS ...] [LABELS ...])
# A GoogleTest executable whose tests are each registered with CTest (or, with
# SINGLE_PROCESS, the binary as one test). LABELS lets the test command select groups
# (unit, integration).
function(shopeasy_test name)
  if(NOT SHOPEASY_BUILD_TESTS)
    return()
  endif()
  cmake_parse_arguments(ARG "SINGLE_PROCESS" "" "SOURCES;DEPS;LABELS" ${ARGN})
  if(NOT ARG_LABELS)
    set(ARG_LABELS unit)
  endif()
  # A tree with several modules under construction can set this to keep configuring.
  if(SHOPEASY_SKIP_INCOMPLETE_TESTS)
    foreach(src IN LISTS ARG_SOURCES)
      if(NOT EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/${src})
        message(WARNING "skipping ${name}: ${src} does not exist yet")
        return()
      endif()
    endforeach()
  endif()
  add_executable(${name} ${ARG_SOURCES})
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gmock GTest::gtest_main
                        shopeasy_test_process)
  if(ARG_SINGLE_PROCESS)
    # One CTest entry for the whole binary, for suites whose tests share an expensive
    # fixture (a database server per suite rather than per test).
    add_test(NAME ${name} COMMAND ${name})
    set_tests_properties(${name} PROPERTIES LABELS "${ARG_LABELS}" TIMEOUT 600)
  else()
    # A GTEST_SKIP shows as "Skipped" in CTest's summary, never as a pass, so a check
    # that cannot run on a machine says so.
    gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60
                         PROPERTIES LABELS "${ARG_LABELS}" TIMEOUT 300
                                    SKIP_REGULAR_EXPRESSION "\\[  SKIPPED \\]")
  endif()
endfunction()
