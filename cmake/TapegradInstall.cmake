# Installs the library, its headers and a versioned CMake package:
#   find_package(tapegrad CONFIG REQUIRED)  ->  tapegrad::tapegrad (everything), or one part:
#   tapegrad::autograd, tapegrad::nn, tapegrad::optim, tapegrad::data, and, when it was built
#   (MPI found), tapegrad::distributed
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(TAPEGRAD_CMAKE_DIR "${CMAKE_INSTALL_LIBDIR}/cmake/tapegrad")

set(_tapegrad_targets tapegrad tapegrad_autograd tapegrad_nn tapegrad_optim tapegrad_data)
set(_tapegrad_headers include/ autograd/include/ layers/include/ optim/include/ data/include/)
if(TAPEGRAD_HAVE_DISTRIBUTED)  # tapegrad::distributed, where MPI was found
  list(APPEND _tapegrad_targets tapegrad_distributed)
  list(APPEND _tapegrad_headers distributed/include/)
endif()
install(TARGETS ${_tapegrad_targets}
        EXPORT tapegradTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY ${_tapegrad_headers}
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT tapegradTargets NAMESPACE tapegrad:: DESTINATION ${TAPEGRAD_CMAKE_DIR})

configure_package_config_file(cmake/tapegradConfig.cmake.in
  "${CMAKE_CURRENT_BINARY_DIR}/tapegradConfig.cmake" INSTALL_DESTINATION ${TAPEGRAD_CMAKE_DIR})
write_basic_package_version_file("${CMAKE_CURRENT_BINARY_DIR}/tapegradConfigVersion.cmake"
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES "${CMAKE_CURRENT_BINARY_DIR}/tapegradConfig.cmake"
              "${CMAKE_CURRENT_BINARY_DIR}/tapegradConfigVersion.cmake"
        DESTINATION ${TAPEGRAD_CMAKE_DIR})
