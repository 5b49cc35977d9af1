// The sync types are inline; this file makes shopeasy::sync a library like every module
// and checks that the header stands alone.
#include "common/sync/mutex.hpp"
