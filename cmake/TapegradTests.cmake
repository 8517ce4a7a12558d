# The test binaries: one per library part (tests/CMakeLists.txt) and one per example
# (examples/CMakeLists.txt), each on the doctest main and helpers of tests/.
find_package(doctest 2.4 REQUIRED)  # puts doctest's CMake module directory on the module path
include(doctest)

# tapegrad_tests(NAME LABEL label LINK target... SOURCES file...)
#
# A doctest binary: SOURCES, the shared main (a run that executes no test case fails) and
# tests/helpers.hpp, linked with the targets in LINK only, so a test sees the headers of what it
# links and nothing above it. ctest runs each TEST_CASE as a test of its own, labelled LABEL
# (`ctest -L nn`), with one BLAS thread (ctest -j2 must not oversubscribe two cores) and
# TAPEGRAD_SOURCE_DIR set: the source tree (fixtures, headers, docs) is passed at run time, not
# compiled in, so that clones at other paths share ccache's compilations.
function(tapegrad_tests name)
  cmake_parse_arguments(TESTS "" "LABEL" "LINK;SOURCES" ${ARGN})
  add_executable(${name} ${TESTS_SOURCES})
  target_link_libraries(${name} PRIVATE tapegrad_test_main ${TESTS_LINK} tapegrad_dev)
  doctest_discover_tests(${name} PROPERTIES
    LABELS "${TESTS_LABEL}"
    ENVIRONMENT "OPENBLAS_NUM_THREADS=1"
    ENVIRONMENT_MODIFICATION "TAPEGRAD_SOURCE_DIR=set:${PROJECT_SOURCE_DIR}")
endfunction()
