# Run with cmake -P (see EmbedFiles.cmake): writes OUT, a C++ source holding every file
# under DIR.
file(GLOB_RECURSE files LIST_DIRECTORIES false RELATIVE ${DIR} ${DIR}/*)
list(SORT files)
set(arrays "")
set(table "")
set(i 0)
foreach(rel IN LISTS files)
  # Editor leftovers never ship.
  if(rel MATCHES "(^|/)\\.|~$")
    continue()
  endif()
  file(READ ${DIR}/${rel} hex HEX)
  file(SHA256 ${DIR}/${rel} digest)
  string(SUBSTRING ${digest} 0 16 etag)
  file(SIZE ${DIR}/${rel} size)
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
  # A trailing zero keeps empty files valid C++ and is not counted in the size.
  string(APPEND arrays "const unsigned char kFile${i}[] = {${bytes}0x00};\n")
  string(APPEND table "    {\"${rel}\", kFile${i}, ${size}, \"${etag}\"},\n")
  math(EXPR i "${i} + 1")
endforeach()
if(i EQUAL 0)
  message(FATAL_ERROR "no files to embed under ${DIR}")
endif()
set(content "// Generated from ${DIR} by embed_files.cmake; do not edit.
#include <span>

#include \"edge/webui/static_assets.hpp\"

namespace {
${arrays}
const shopeasy::webui::EmbeddedFile kFiles[] = {
${table}};
}  // namespace

namespace ${NAMESPACE} {
std::span<const shopeasy::webui::EmbeddedFile> embedded_files() { return kFiles; }
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
