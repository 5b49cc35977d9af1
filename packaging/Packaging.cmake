# Debian packages of the three programs, one per CPack component:
#   shopeasy-edge   the store daemon, its unit, /etc/shopeasy/edge.json, shopeasy-edge-users
#   shopeasy-cloud  the cloud daemon, its unit, /etc/shopeasy/cloud.json
#   shopeasy-runner the runner client, its unit, /etc/shopeasy/runner.json
# Build the programs first, then run `cpack` in the build directory (packaging/README.md).
# The install rules here are EXCLUDE_FROM_ALL: a plain `cmake --install` of the tree
# never writes to /etc or /lib/systemd; only a component install (CPack) does.

set(SHOPEASY_PACKAGE_MAINTAINER "ShopEasy maintainers <ops@shopeasy.invalid>"
    CACHE STRING "Maintainer field of the Debian packages")
set(SHOPEASY_SYSTEMD_UNIT_DIR "/lib/systemd/system"
    CACHE STRING "Where the packages put their systemd units")

set(_se_src ${PROJECT_SOURCE_DIR}/packaging)
set(_se_gen ${PROJECT_BINARY_DIR}/packaging)

# Debian wants a changelog in every package's doc directory, compressed.
string(TIMESTAMP _se_date "%a, %d %b %Y %H:%M:%S +0000" UTC)
file(WRITE ${_se_gen}/changelog.Debian
     "shopeasy (${PROJECT_VERSION}-1) unstable; urgency=medium\n\n"
     "  * Built from the ShopEasy source tree with CPack.\n\n"
     " -- ${SHOPEASY_PACKAGE_MAINTAINER}  ${_se_date}\n")
file(ARCHIVE_CREATE OUTPUT ${_se_gen}/changelog.Debian.gz PATHS ${_se_gen}/changelog.Debian
     FORMAT raw COMPRESSION GZip COMPRESSION_LEVEL 9 MTIME 0)

# shopeasy_package_component(<component> PACKAGE <name> PROGRAMS <targets...> UNIT <file>
#   CONFIG <file> USER <user> [STATE_DIRS <dirs...>] SUMMARY <text> DESCRIPTION <text>
#   [DEPENDS <text>] [RECOMMENDS <text>] [EXTRA_DOCS <files...>])
function(shopeasy_package_component component)
  cmake_parse_arguments(ARG "" "PACKAGE;UNIT;CONFIG;USER;SUMMARY;DESCRIPTION;DEPENDS;RECOMMENDS"
                        "PROGRAMS;STATE_DIRS;EXTRA_DOCS" ${ARGN})
  string(TOUPPER ${component} upper)
  get_filename_component(config_name ${ARG_CONFIG} NAME)
  set(conffile /etc/shopeasy/${config_name})
  set(doc_dir share/doc/${ARG_PACKAGE})

  install(TARGETS ${ARG_PROGRAMS} RUNTIME DESTINATION bin COMPONENT ${component} EXCLUDE_FROM_ALL)
  install(FILES ${_se_src}/systemd/${ARG_UNIT} DESTINATION ${SHOPEASY_SYSTEMD_UNIT_DIR}
          COMPONENT ${component} EXCLUDE_FROM_ALL)
  install(FILES ${_se_src}/etc/${config_name} DESTINATION /etc/shopeasy
          COMPONENT ${component} EXCLUDE_FROM_ALL)
  install(FILES ${_se_src}/README.md ${_se_src}/debian/copyright ${_se_gen}/changelog.Debian.gz
          DESTINATION ${doc_dir} COMPONENT ${component} EXCLUDE_FROM_ALL)
  install(FILES ${_se_src}/etc/README.md DESTINATION ${doc_dir} RENAME configuration.md
          COMPONENT ${component} EXCLUDE_FROM_ALL)
  if(ARG_EXTRA_DOCS)
    install(FILES ${ARG_EXTRA_DOCS} DESTINATION ${doc_dir}/examples
            COMPONENT ${component} EXCLUDE_FROM_ALL)
  endif()

  # Maintainer scripts and the conffiles list, filled in for this package.
  set(PACKAGE ${ARG_PACKAGE})
  set(UNIT ${ARG_UNIT})
  set(SERVICE_USER ${ARG_USER})
  set(CONFFILE ${conffile})
  list(JOIN ARG_STATE_DIRS " " STATE_DIRS)
  if(ARG_STATE_DIRS)
    list(GET ARG_STATE_DIRS 0 HOME_DIR)
  else()
    set(HOME_DIR /nonexistent)
  endif()
  set(GECOS "${ARG_SUMMARY}")
  set(out ${_se_gen}/${component})
  foreach(script postinst prerm postrm)
    configure_file(${_se_src}/debian/${script}.in ${out}/${script} @ONLY)
  endforeach()
  file(WRITE ${out}/conffiles "${conffile}\n")

  set(CPACK_DEBIAN_${upper}_PACKAGE_NAME ${ARG_PACKAGE} PARENT_SCOPE)
  set(CPACK_DEBIAN_${upper}_FILE_NAME DEB-DEFAULT PARENT_SCOPE)
  set(CPACK_DEBIAN_${upper}_DESCRIPTION "${ARG_SUMMARY}\n${ARG_DESCRIPTION}" PARENT_SCOPE)
  set(CPACK_COMPONENT_${upper}_DESCRIPTION "${ARG_SUMMARY}\n${ARG_DESCRIPTION}" PARENT_SCOPE)
  set(CPACK_DEBIAN_${upper}_PACKAGE_DEPENDS "${ARG_DEPENDS}" PARENT_SCOPE)
  set(CPACK_DEBIAN_${upper}_PACKAGE_RECOMMENDS "${ARG_RECOMMENDS}" PARENT_SCOPE)
  set(CPACK_DEBIAN_${upper}_PACKAGE_CONTROL_EXTRA
      "${out}/postinst;${out}/prerm;${out}/postrm;${out}/conffiles" PARENT_SCOPE)
endfunction()

shopeasy_package_component(edge
  PACKAGE shopeasy-edge
  PROGRAMS shopeasy-edge shopeasy-edge-users
  UNIT shopeasy-edge.service
  CONFIG edge.json
  USER shopeasy-edge
  STATE_DIRS /var/lib/shopeasy-edge /var/log/shopeasy-edge
  SUMMARY "ShopEasy store edge daemon"
  DESCRIPTION "The daemon of one dark store: stock ledger, scans, runner telemetry,\npicking and dispatch, and the staff API. Includes shopeasy-edge-users,\nwhich manages the store's staff accounts."
  DEPENDS "adduser"
  RECOMMENDS "mosquitto"
  EXTRA_DOCS ${PROJECT_SOURCE_DIR}/firmware-config/mosquitto/mosquitto.conf
             ${PROJECT_SOURCE_DIR}/firmware-config/mosquitto/acl
             ${PROJECT_SOURCE_DIR}/firmware-config/mosquitto/add-runner.sh)

shopeasy_package_component(cloud
  PACKAGE shopeasy-cloud
  PROGRAMS shopeasy-cloud
  UNIT shopeasy-cloud.service
  CONFIG cloud.json
  USER shopeasy-cloud
  STATE_DIRS /var/lib/shopeasy-cloud /var/log/shopeasy-cloud
  SUMMARY "ShopEasy cloud daemon"
  DESCRIPTION "The fleet's aggregator: store registry and replicas, customer catalog,\norders and routing, on SQLite or PostgreSQL."
  DEPENDS "adduser")

shopeasy_package_component(runner
  PACKAGE shopeasy-runner
  PROGRAMS shopeasy-runner
  UNIT shopeasy-runner.service
  CONFIG runner.json
  USER shopeasy-runner
  SUMMARY "ShopEasy runner device client"
  DESCRIPTION "Reports one runner's position, status and events to its store over MQTT."
  DEPENDS "adduser")

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME shopeasy)
set(CPACK_PACKAGE_VENDOR ShopEasy)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
# Empty on purpose: CPackDeb would otherwise put this one summary above every
# package's own synopsis (the first line of its description).
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "")
set(CPACK_PACKAGE_CONTACT "${SHOPEASY_PACKAGE_MAINTAINER}")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL edge cloud runner)
set(CPACK_COMPONENTS_GROUPING IGNORE)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${SHOPEASY_PACKAGE_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_DEBIAN_COMPRESSION_TYPE xz)
include(CPack)
