# Every ```cpp block of the docs, compiled: docs cannot drift from the API.
#
# tapegrad_doc_snippets(TARGET OUT_DIR) writes one OUT_DIR/<page>_<line>.cpp per block of
# README.md and docs/*.md (line: its opening fence's) at configure time, and builds them with
# the tests:
# programs (a block with `int main(`) as executables, the others as objects of TARGET. A block
# is compiled as it stands, as a translation unit after <tapegrad/tapegrad.hpp> and the page's
# earlier blocks of declarations, unless an HTML comment right before its fence says otherwise:
#
#   <!-- snippet: fragment(PARAMS) -->       statements: the body of a function taking PARAMS
#                                            (the names the block uses but does not declare)
#   <!-- snippet: fragment(PARAMS) given: DECLARATIONS -->
#                                            the same, after DECLARATIONS (a user's own class)
#   <!-- snippet: skip (REASON) -->          not compiled, for REASON (rare)
#
# and a page may say what all its blocks assume: <!-- snippets given: DECLARATIONS -->.
# #include lines of a fragment go to the top of its file. A block of declarations (no marker,
# no main) is also put before the page's later blocks, so a page can define a class or function
# and then use it. The test docs.snippets (`cmake -P` of this file) fails when the number of
# ```cpp fences differs from the number of files written, so no block goes unextracted.

# The text of an HTML comment ending `text` ("" when `text` does not end with one).
function(_tapegrad_trailing_comment text out)
  string(REGEX REPLACE "[ \t\n]+$" "" text "${text}")
  set(comment "")
  if(text MATCHES "-->$")
    string(FIND "${text}" "<!--" at REVERSE)
    if(at GREATER -1)
      string(SUBSTRING "${text}" ${at} -1 comment)
    endif()
  endif()
  set(${out} "${comment}" PARENT_SCOPE)
endfunction()

# The pages whose blocks are compiled: README.md and docs/*.md of `root`.
function(_tapegrad_doc_pages root out)
  if(CMAKE_SCRIPT_MODE_FILE)
    file(GLOB pages "${root}/docs/*.md")
  else()
    file(GLOB pages CONFIGURE_DEPENDS "${root}/docs/*.md")  # a new page configures again
  endif()
  set(${out} "${root}/README.md" ${pages} PARENT_SCOPE)
endfunction()

# The number of lines of a ```cpp fence in `text`, however indented.
function(_tapegrad_count_fences text out)
  string(REGEX MATCHALL "(^|\n)[ \t]*```cpp" fences "${text}")
  list(LENGTH fences n)
  set(${out} ${n} PARENT_SCOPE)
endfunction()

# Writes the blocks of `page` into `out_dir`; appends the files to the lists named by
# `written_var` (all), `units_var` (compiled only) and `programs_var` (linked), and counts the
# blocks in `count_var`.
function(_tapegrad_page_snippets page out_dir written_var units_var programs_var count_var)
  file(READ "${page}" text)
  file(RELATIVE_PATH shown "${PROJECT_SOURCE_DIR}" "${page}")
  get_filename_component(stem "${page}" NAME_WE)
  string(MAKE_C_IDENTIFIER "${stem}" stem)
  set(units ${${units_var}})
  set(programs ${${programs_var}})
  set(blocks 0)
  set(page_files "")

  set(page_given "")
  if(text MATCHES "<!-- snippets given:")
    string(FIND "${text}" "<!-- snippets given:" at)
    string(SUBSTRING "${text}" ${at} -1 rest)
    string(FIND "${rest}" "-->" end)
    math(EXPR given_length "${end} - 20")
    string(SUBSTRING "${rest}" 20 ${given_length} page_given)
  endif()

  set(declarations "")  # the page's blocks of declarations so far
  set(text "\n${text}")
  set(offset 0)
  while(TRUE)
    string(SUBSTRING "${text}" ${offset} -1 rest)
    string(FIND "${rest}" "\n```cpp\n" fence)
    if(fence EQUAL -1)
      break()
    endif()
    math(EXPR fence_at "${offset} + ${fence}")
    math(EXPR code_at "${fence_at} + 8")
    string(SUBSTRING "${text}" ${code_at} -1 after)
    string(FIND "${after}" "\n```" code_length)
    if(code_length EQUAL -1)
      message(FATAL_ERROR "${shown}: a ```cpp block is not closed")
    endif()
    string(SUBSTRING "${after}" 0 ${code_length} code)
    math(EXPR offset "${code_at} + ${code_length} + 4")

    string(SUBSTRING "${text}" 0 ${fence_at} before)
    string(REGEX MATCHALL "\n" newlines "${before}")
    list(LENGTH newlines line)
    math(EXPR line "${line} + 1")  # the fence's line (the \n added at the start ends no line)
    set(where "${shown}:${line}")
    set(file "${out_dir}/${stem}_${line}.cpp")
    list(APPEND page_files "${file}")
    math(EXPR blocks "${blocks} + 1")

    _tapegrad_trailing_comment("${before}" marker)
    set(kind unit)
    set(params "")
    set(given "")
    if(marker MATCHES "^<!-- snippet:")
      if(marker MATCHES "^<!-- snippet: fragment\\(([^)]*)\\)(.*)-->$")
        set(kind fragment)
        set(params "${CMAKE_MATCH_1}")
        set(tail "${CMAKE_MATCH_2}")
        if(tail MATCHES "^[ \t\n]*given:(.*)$")
          set(given "${CMAKE_MATCH_1}")
        elseif(NOT tail MATCHES "^[ \t\n]*$")
          message(FATAL_ERROR "${where}: after fragment(...) only `given: DECLARATIONS`: ${marker}")
        endif()
      elseif(marker MATCHES "^<!-- snippet: skip \\(([^)]+)\\) *-->$")
        set(kind skip)
        set(given "${CMAKE_MATCH_1}")
      else()
        message(FATAL_ERROR "${where}: unknown snippet marker ${marker} (fragment(PARAMS) "
                            "[given: DECLARATIONS], or skip (REASON))")
      endif()
    elseif(code MATCHES "int main\\(")
      set(kind program)
    endif()

    set(header "// Generated from ${where} by cmake/TapegradDocSnippets.cmake: do not edit.\n")
    if(kind STREQUAL "skip")
      file(CONFIGURE OUTPUT "${file}" CONTENT "${header}// Not compiled: ${given}\n" @ONLY)
      continue()
    endif()
    if(kind STREQUAL "program")
      file(CONFIGURE OUTPUT "${file}" CONTENT "${header}${code}\n" @ONLY)
      list(APPEND programs "${file}")
      continue()
    endif()

    # #include lines first, then what the page gives, its earlier declarations, this block.
    string(REGEX MATCHALL "(^|\n)#include[^\n]*" includes "${declarations}\n${code}")
    string(REPLACE ";" "" includes "${includes}")
    string(REGEX REPLACE "(^|\n)#include[^\n]*" "\\1" body "${code}")
    string(REGEX REPLACE "(^|\n)#include[^\n]*" "\\1" earlier "${declarations}")
    if(kind STREQUAL "fragment")
      string(MAKE_C_IDENTIFIER "${stem}_${line}" function)
      set(body "${given}\nvoid snippet_${function}(${params}) {\n${body}\n}")
    endif()
    file(CONFIGURE OUTPUT "${file}"
         CONTENT "${header}#include <tapegrad/tapegrad.hpp>\n${includes}\n${page_given}\n${earlier}\n${body}\n"
         @ONLY)
    list(APPEND units "${file}")
    if(kind STREQUAL "unit")
      string(APPEND declarations "\n// ${where}\n${code}\n")
    endif()
  endwhile()

  _tapegrad_count_fences("${text}" fences)
  if(NOT fences EQUAL blocks)
    message(FATAL_ERROR "${shown}: ${fences} ```cpp fences, ${blocks} extracted: a fence must "
                        "start its line, ```cpp alone, and be closed by ``` at a line start")
  endif()
  set(${written_var} ${${written_var}} ${page_files} PARENT_SCOPE)
  set(${units_var} ${units} PARENT_SCOPE)
  set(${programs_var} ${programs} PARENT_SCOPE)
  math(EXPR total "${${count_var}} + ${blocks}")
  set(${count_var} ${total} PARENT_SCOPE)
endfunction()

function(tapegrad_doc_snippets target out_dir)
  file(MAKE_DIRECTORY "${out_dir}")
  set(written "")
  set(units "")
  set(programs "")
  set(count 0)
  _tapegrad_doc_pages("${PROJECT_SOURCE_DIR}" pages)
  foreach(page IN LISTS pages)
    set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${page}")
    _tapegrad_page_snippets("${page}" "${out_dir}" written units programs count)
  endforeach()
  # Files are rewritten only when their text changes (no rebuild); a block gone takes its file.
  file(GLOB stale "${out_dir}/*.cpp")
  list(REMOVE_ITEM stale ${written})
  if(stale)
    file(REMOVE ${stale})
  endif()
  list(LENGTH units n_units)
  list(LENGTH programs n_programs)
  message(STATUS "Doc snippets: ${count} ```cpp blocks, ${n_units} compiled, ${n_programs} "
                 "linked as programs")

  add_library(${target} OBJECT ${units})
  target_link_libraries(${target} PRIVATE tapegrad::tapegrad tapegrad_dev)
  foreach(program IN LISTS programs)
    get_filename_component(name "${program}" NAME_WE)
    add_executable(${target}_${name} "${program}")
    target_link_libraries(${target}_${name} PRIVATE tapegrad::tapegrad tapegrad_dev)
  endforeach()

  # The fences of the pages now against the files written at configure time.
  add_test(NAME docs.snippets
           COMMAND "${CMAKE_COMMAND}" -D "ROOT=${PROJECT_SOURCE_DIR}" -D "OUT_DIR=${out_dir}"
                   -P "${CMAKE_CURRENT_FUNCTION_LIST_FILE}")
  set_tests_properties(docs.snippets PROPERTIES LABELS docs)
endfunction()

# cmake -D ROOT=<source dir> -D OUT_DIR=<build dir>/tests/doc_snippets -P TapegradDocSnippets.cmake:
# fails unless every ```cpp fence of the pages has its file in OUT_DIR.
if(CMAKE_SCRIPT_MODE_FILE AND CMAKE_SCRIPT_MODE_FILE STREQUAL CMAKE_CURRENT_LIST_FILE)
  set(fences 0)
  _tapegrad_doc_pages("${ROOT}" pages)
  foreach(page IN LISTS pages)
    file(READ "${page}" text)
    _tapegrad_count_fences("${text}" n)
    math(EXPR fences "${fences} + ${n}")
  endforeach()
  file(GLOB files "${OUT_DIR}/*.cpp")
  list(LENGTH files n_files)
  if(NOT fences EQUAL n_files)
    message(FATAL_ERROR "docs: ${fences} ```cpp fences but ${n_files} extracted files in "
                        "${OUT_DIR}: reconfigure, or a fence was not recognised")
  endif()
  message(STATUS "docs: ${fences} ```cpp fences, ${n_files} extracted files")
endif()
