// The shopeasy-vision command: decode codes in image files and scan a shelf image
// against a planogram, for installers and for checking a camera's view by hand.
//
//   shopeasy-vision decode [--engine chain|zxing|opencv] IMAGE...
//       one JSON line per code found: {"image", "symbology", "text", "gtin14"?,
//       "corners": [[x, y] x4], "engine"}
//   shopeasy-vision shelf --planogram FILE [--state PREFIX] [--out ANNOTATED.jpg] [--json]
//                         IMAGE|FOLDER
//       one line per slot (id, state, fill, facings, codes), or the scan as JSON; the
//       annotated image goes to --out (default: IMAGE's name + ".annotated.jpg"). A
//       FOLDER is a sequence of frames in time order (name order): without an empty
//       reference the scanner learns the slots' empty looks as it goes; one line per
//       frame (empty/low/ok counts, slots with a learned empty look, milliseconds),
//       then the last frame's slots (JSON: the last scan with "frames"). --state keeps
//       the learned state in PREFIX.json and PREFIX.*.png, read before the first frame
//       and written after the last.
//
// Exit status: 0 when every input was read, 1 when an image or planogram could not be
// (with a message naming it on stderr; other images are still processed), 2 for a
// usage error.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace shopeasy::edge::vision {

// Runs the command with `args` (without the program name). Never throws.
int run_cli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace shopeasy::edge::vision
