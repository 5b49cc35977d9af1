# shopeasy_embed_files(<out_cpp> NAMESPACE <ns> DIR <dir> [SHARED <file>...])
# Generates <out_cpp> at build time: every file under <dir> as a byte array, with its
# path relative to <dir> (each SHARED file, kept once in web/common for the pages of
# both daemons, by its own name beside them) and the first 16 hex digits of its SHA-256 (the ETag), and
# `std::span<const shopeasy::http::EmbeddedFile> <ns>::embedded_files()`. The web pages
# are compiled into the daemons this way, so a package has nothing else to install and
# nothing can go missing at run time. Regenerated when any file is added or changed.
#
# One file, two roles: include()d, it defines shopeasy_embed_files(); the build step
# that function adds runs this same file with `cmake -P` to write <out_cpp>.

if(CMAKE_SCRIPT_MODE_FILE)
  # Script mode (cmake -DDIR=... -DOUT=... -DNAMESPACE=... -P EmbedFiles.cmake).
  file(GLOB_RECURSE files LIST_DIRECTORIES false RELATIVE ${DIR} ${DIR}/*)
  # SHARED arrives as a ;-free list (the command line splits on ';'): "|" separates.
  set(shared_paths "")
  if(SHARED)
    string(REPLACE "|" ";" shared_paths "${SHARED}")
  endif()
  foreach(path IN LISTS shared_paths)
    get_filename_component(name ${path} NAME)
    list(FIND files ${name} clash)
    if(NOT clash EQUAL -1)
      message(FATAL_ERROR "${DIR}/${name} would hide the shared ${path}")
    endif()
    list(APPEND files ${name})
    set(source_of_${name} ${path})
  endforeach()
  list(SORT files)
  set(arrays "")
  set(table "")
  set(i 0)
  foreach(rel IN LISTS files)
    # Editor leftovers never ship.
    if(rel MATCHES "(^|/)\\.|~$")
      continue()
    endif()
    set(source ${DIR}/${rel})
    if(DEFINED source_of_${rel})
      set(source ${source_of_${rel}})
    endif()
    file(READ ${source} hex HEX)
    file(SHA256 ${source} digest)
    string(SUBSTRING ${digest} 0 16 etag)
    file(SIZE ${source} size)
    string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
    # A trailing zero keeps empty files valid C++ and is not counted in the size.
    string(APPEND arrays "const unsigned char kFile${i}[] = {${bytes}0x00};\n")
    string(APPEND table "    {\"${rel}\", kFile${i}, ${size}, \"${etag}\"},\n")
    math(EXPR i "${i} + 1")
  endforeach()
  if(i EQUAL 0)
    message(FATAL_ERROR "no files to embed under ${DIR}")
  endif()
  set(content "// Generated from ${DIR} by EmbedFiles.cmake; do not edit.
#include <span>

#include \"common/http/static_assets.hpp\"

namespace {
${arrays}
const shopeasy::http::EmbeddedFile kFiles[] = {
${table}};
}  // namespace

namespace ${NAMESPACE} {
std::span<const shopeasy::http::EmbeddedFile> embedded_files() { return kFiles; }
}  // namespace ${NAMESPACE}
")
  # Rewrite only on change so an unchanged page does not relink the daemon.
  if(EXISTS ${OUT})
    file(READ ${OUT} old)
    if(old STREQUAL content)
      return()
    endif()
  endif()
  file(WRITE ${OUT} "${content}")
  return()
endif()

set(SHOPEASY_EMBED_SCRIPT ${CMAKE_CURRENT_LIST_FILE})

function(shopeasy_embed_files out_cpp)
  cmake_parse_arguments(ARG "" "NAMESPACE;DIR" "SHARED" ${ARGN})
  file(GLOB_RECURSE files CONFIGURE_DEPENDS LIST_DIRECTORIES false ${ARG_DIR}/*)
  string(REPLACE ";" "|" shared "${ARG_SHARED}")
  add_custom_command(
    OUTPUT ${out_cpp}
    COMMAND ${CMAKE_COMMAND} -DDIR=${ARG_DIR} -DOUT=${out_cpp} -DNAMESPACE=${ARG_NAMESPACE}
            -DSHARED=${shared} -P ${SHOPEASY_EMBED_SCRIPT}
    DEPENDS ${files} ${ARG_SHARED} ${SHOPEASY_EMBED_SCRIPT}
    COMMENT "Embedding ${ARG_DIR}"
    VERBATIM)
endfunction()
