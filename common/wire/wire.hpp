// The ShopEasy wire formats in one include: runner telemetry, presence, events and
// assignments; scanner scans; stock ledger changes; orders; edge/cloud sync. All codecs
// share json_fields.hpp's conventions: compact snake_case JSON, integer Unix-millisecond
// timestamps (*_ms), integer cents and units, unknown keys ignored, and decoders that
// never throw and name the offending field path in a kInvalidArgument Status.
#pragma once

#include "common/wire/json_fields.hpp"
#include "common/wire/order.hpp"
#include "common/wire/runner.hpp"
#include "common/wire/scan.hpp"
#include "common/wire/stock_change.hpp"
#include "common/wire/sync.hpp"
