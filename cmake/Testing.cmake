# The configured paths (shared data, source and build folders) live in one small library, so
# that no other test file's compile line names this checkout (ccache hits across clones).
add_library(ebs_test_paths STATIC ${CMAKE_SOURCE_DIR}/test/support/test_data.cpp)
target_include_directories(ebs_test_paths PUBLIC ${CMAKE_SOURCE_DIR})
target_compile_definitions(ebs_test_paths PRIVATE
  EBS_DEFAULT_TEST_DATA="${EBS_TEST_DATA}"
  EBS_SOURCE_DIR="${CMAKE_SOURCE_DIR}"
  EBS_BINARY_DIR="${CMAKE_BINARY_DIR}")

# ebs_test_caches(test): the caches ebs-flow keeps across runs (catalogue builds, files shipped to
# cluster nodes; docs/catalogs.md, docs/cluster.md) go to a folder of the test's own under the
# build tree, never the user's ~/.cache: a test neither reads builds another checkout left there
# nor depends on a warm cache (CI starts from a clean clone). Every add_test calls it.
function(ebs_test_caches test)
  set(caches ${CMAKE_CURRENT_BINARY_DIR}/test-caches/${test})
  set_property(TEST ${test} APPEND PROPERTY ENVIRONMENT
    "EBS_CATALOG_CACHE=${caches}/catalogs" "XDG_CACHE_HOME=${caches}/xdg")
endfunction()

# ebs_add_test(NAME name SOURCES a_test.cpp ... LIBS lib ...)
# Builds one doctest executable and registers it with ctest. Each test finds the shared data
# through EBS_TEST_DATA (environment) with the configured default (test/support/test_data.h).
function(ebs_add_test)
  cmake_parse_arguments(T "" "NAME" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${T_NAME} ${CMAKE_SOURCE_DIR}/test/doctest_main.cpp ${T_SOURCES})
  target_link_libraries(${T_NAME} PRIVATE doctest::doctest ebs_test_paths ${T_LIBS})
  add_test(NAME ${T_NAME} COMMAND ${T_NAME})
  ebs_test_caches(${T_NAME})
  if(T_LABELS)
    set_tests_properties(${T_NAME} PROPERTIES LABELS "${T_LABELS}")
  endif()
endfunction()

# ebs_add_optional_subdirectory(dir): adds a family folder when it has a CMakeLists.txt, unless its
# path relative to the source root is listed in EBS_SKIP_DIRS (for building part of a tree that
# someone is still working on).
set(EBS_SKIP_DIRS "" CACHE STRING "Folders (relative to the source root) not to build")
function(ebs_add_optional_subdirectory dir)
  file(RELATIVE_PATH rel ${CMAKE_SOURCE_DIR} ${CMAKE_CURRENT_SOURCE_DIR}/${dir})
  if(rel IN_LIST EBS_SKIP_DIRS)
    message(STATUS "skipping ${rel} (EBS_SKIP_DIRS)")
  elseif(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/${dir}/CMakeLists.txt)
    add_subdirectory(${dir})
  endif()
endfunction()
