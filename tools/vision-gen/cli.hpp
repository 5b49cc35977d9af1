// The shopeasy-vision-gen command: writes generated test images to disk, for the
// evaluation scripts (zbarimg reads the same files) and for trying the cameras by hand.
//
//   shopeasy-vision-gen code --symbology NAME [--content TEXT] [--level clean|medium|hard]
//                            [--seed N] --out FILE
//   shopeasy-vision-gen set --symbology NAME|none --level LEVEL --count N [--seed N] --dir DIR
//       DIR/NNNNN.png and DIR/truth.jsonl ({"file", "symbology", "content"} per line)
//   shopeasy-vision-gen shelf [--seed N] [--rows R] [--slots S] [--no-markers]
//                             [--frames N] --dir DIR
//       DIR/planogram.json, full.png, empty.png, frame-NN.jpg, truth.json
// Exit status 0, 1 when a file cannot be written or the content cannot be encoded,
// 2 for a usage error.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace shopeasy::vision_gen {

int run_gen_cli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace shopeasy::vision_gen
