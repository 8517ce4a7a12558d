# tapegrad_part(NAME SOURCES src... [DEPENDS part...] [PUBLIC_LIBS lib...] [PRIVATE_LIBS lib...])
#
# One library target per folder: tapegrad_NAME, used as tapegrad::NAME (in this build and when
# installed), with only the folder's own include/ public and the parts it may use named in
# DEPENDS. A header of a part that is not in DEPENDS is not on the include path, so the build
# itself keeps every arrow of docs/design.md's picture pointing down.
function(tapegrad_part name)
  cmake_parse_arguments(PART "" "" "SOURCES;DEPENDS;PUBLIC_LIBS;PRIVATE_LIBS" ${ARGN})
  set(target tapegrad_${name})
  add_library(${target} ${PART_SOURCES})
  add_library(tapegrad::${name} ALIAS ${target})
  set_target_properties(${target} PROPERTIES EXPORT_NAME ${name} POSITION_INDEPENDENT_CODE ON
                                             VERSION ${PROJECT_VERSION})
  target_include_directories(${target}
    PUBLIC $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include>
           $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>
    PRIVATE src)
  set(parts "")
  foreach(dependency IN LISTS PART_DEPENDS)
    list(APPEND parts tapegrad::${dependency})
  endforeach()
  target_link_libraries(${target}
    PUBLIC ${parts} ${PART_PUBLIC_LIBS}
    PRIVATE fmt::fmt ${PART_PRIVATE_LIBS} $<BUILD_INTERFACE:tapegrad_dev>)
  target_compile_features(${target} PUBLIC cxx_std_17)
endfunction()
