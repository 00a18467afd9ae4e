# `make install` and `make deb` (README "systemd, install and the .deb"):
# the binaries, /etc/tollgate/tollgate.yaml (a conffile in the .deb), the
# systemd unit, the docs and example configs; CPack builds the Debian package.
include(GNUInstallDirs)

set(TOLLGATE_CONFIG_DIR "/etc/tollgate" CACHE PATH "where the installed tollgated.service reads tollgate.yaml")

install(TARGETS tollgated tollgate tollgate-load tollgate-replay RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
# The config is installed only where none exists: `make install` over a
# configured machine must not replace the operator's file (the .deb marks
# it a conffile, and dpkg asks).
install(CODE "
  if(EXISTS \"\$ENV{DESTDIR}${TOLLGATE_CONFIG_DIR}/tollgate.yaml\")
    message(STATUS \"Keeping: \$ENV{DESTDIR}${TOLLGATE_CONFIG_DIR}/tollgate.yaml (exists)\")
  else()
    file(INSTALL \"${CMAKE_SOURCE_DIR}/packaging/tollgate.yaml\" DESTINATION \"${TOLLGATE_CONFIG_DIR}\")
  endif()
")
install(FILES ${CMAKE_SOURCE_DIR}/README.md ${CMAKE_SOURCE_DIR}/docs/architecture.md
              ${CMAKE_SOURCE_DIR}/docs/durability.md ${CMAKE_SOURCE_DIR}/docs/cli.md
        DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(FILES ${CMAKE_SOURCE_DIR}/conf/tollgate.yaml ${CMAKE_SOURCE_DIR}/conf/minimal.yaml
        DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)
# The unit names the binary where this install puts it: the prefix is read
# at install time (CPack installs with its own prefix, /usr).
install(CODE "
  set(BINDIR \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_BINDIR}\")
  set(DOCDIR \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_DOCDIR}\")
  set(CONFDIR \"${TOLLGATE_CONFIG_DIR}\")
  configure_file(\"${CMAKE_SOURCE_DIR}/packaging/tollgated.service.in\"
                 \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/lib/systemd/system/tollgated.service\" @ONLY)
  message(STATUS \"Installing: \$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/lib/systemd/system/tollgated.service\")
")

set(CPACK_GENERATOR "DEB")
set(CPACK_PACKAGE_NAME "tollgate")
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGE_CONTACT "tollgate maintainers <tollgate@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "API-call contract and rate-limit enforcement daemon (RESP over Unix sockets)")
set(CPACK_PACKAGE_DESCRIPTION "tollgated enforces rate limits, windows, quotas and prepaid money per contract, answering Redis-protocol clients on Unix sockets; with the tollgate CLI, the tollgate-load generator and tollgate-replay (a recorded call log through a candidate config).")
set(CPACK_PACKAGING_INSTALL_PREFIX "/usr")
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION "net")
set(CPACK_DEBIAN_PACKAGE_PRIORITY "optional")
# Library dependencies from the binaries (dpkg-shlibdeps); adduser for postinst.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    "${CMAKE_SOURCE_DIR}/packaging/debian/conffiles;${CMAKE_SOURCE_DIR}/packaging/debian/postinst;${CMAKE_SOURCE_DIR}/packaging/debian/prerm;${CMAKE_SOURCE_DIR}/packaging/debian/postrm")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_OUTPUT_FILE_PREFIX "${CMAKE_BINARY_DIR}/package")
include(CPack)
