# shopeasy_embed_files(<out_cpp> NAMESPACE <ns> DIR <dir>)
# Generates <out_cpp> at build time: every file under <dir> as a byte array, with its
# path relative to <dir> and the first 16 hex digits of its SHA-256 (the ETag), and
# `std::span<const shopeasy::webui::EmbeddedFile> <ns>::embedded_files()`. The web pages
# are compiled into the daemons this way, so a package has nothing else to install and
# nothing can go missing at run time. Regenerated when any file is added or changed.
set(SHOPEASY_EMBED_SCRIPT ${CMAKE_CURRENT_LIST_DIR}/embed_files.cmake)

function(shopeasy_embed_files out_cpp)
  cmake_parse_arguments(ARG "" "NAMESPACE;DIR" "" ${ARGN})
  file(GLOB_RECURSE files CONFIGURE_DEPENDS LIST_DIRECTORIES false ${ARG_DIR}/*)
  add_custom_command(
    OUTPUT ${out_cpp}
    COMMAND ${CMAKE_COMMAND} -DDIR=${ARG_DIR} -DOUT=${out_cpp} -DNAMESPACE=${ARG_NAMESPACE}
            -P ${SHOPEASY_EMBED_SCRIPT}
    DEPENDS ${files} ${SHOPEASY_EMBED_SCRIPT}
    COMMENT "Embedding ${ARG_DIR}"
    VERBATIM)
endfunction()
