#include "cloud/search/search_service.hpp"

#include <gtest/gtest.h>

namespace shopeasy::cloud::search {
namespace {

TEST(SearchServiceTest, Placeholder) { SUCCEED(); }

}  // namespace
}  // namespace shopeasy::cloud::search
