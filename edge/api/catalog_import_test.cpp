#include "edge/api/catalog_import.hpp"

#include <gtest/gtest.h>

#include "edge/api/event_stream.hpp"

namespace shopeasy::edge::api {
namespace {

TEST(CatalogCsvTest, ParsesQuotedFieldsAndReportsBadRows) {
  const std::string csv =
      "sku,name,price_cents,barcodes,home_bin\n"
      "MILK,\"Milk, 1 L \"\"fresh\"\"\",6500,4006381333931|96385074,A-01\n"
      "EGGS,Eggs,ninety,,\n"
      "\n"
      "BREAD,Bread,4000,,B-01\n";
  auto rows = parse_catalog_csv(csv);
  ASSERT_TRUE(rows.ok()) << rows.status().to_string();
  ASSERT_EQ(rows->size(), 3u);
  ASSERT_TRUE((*rows)[0].ok());
  EXPECT_EQ((*rows)[0]->name, "Milk, 1 L \"fresh\"");
  EXPECT_EQ((*rows)[0]->barcodes.size(), 2u);
  EXPECT_EQ((*rows)[0]->home_bin, "A-01");
  ASSERT_FALSE((*rows)[1].ok());
  EXPECT_EQ((*rows)[1].status().field(), "price_cents");
  EXPECT_TRUE((*rows)[2].ok());
}

TEST(CatalogCsvTest, WholeDocumentProblems) {
  EXPECT_FALSE(parse_catalog_csv("").ok());
  EXPECT_FALSE(parse_catalog_csv("name,price_cents\nx,1\n").ok());  // no sku column
  EXPECT_FALSE(parse_catalog_csv("sku,name,colour\n").ok());        // unknown column
  EXPECT_FALSE(parse_catalog_csv("sku,name\n\"open,quote\n").ok());
}

TEST(CatalogJsonTest, ReportsPerRowFieldErrors) {
  auto rows = parse_catalog_json(
      R"({"products": [{"sku": "A", "name": "Apple", "barcodes": ["96385074"]},
                       {"sku": "B"},
                       {"sku": "C", "name": "C", "price_cents": -1},
                       {"sku": "D", "name": "D", "barcodes": [7]}]})");
  ASSERT_TRUE(rows.ok()) << rows.status().to_string();
  ASSERT_EQ(rows->size(), 4u);
  EXPECT_TRUE((*rows)[0].ok());
  EXPECT_EQ((*rows)[1].status().field(), "name");
  EXPECT_EQ((*rows)[2].status().field(), "price_cents");
  EXPECT_EQ((*rows)[3].status().field(), "barcodes[0]");
  EXPECT_FALSE(parse_catalog_json("{\"products\": 3}").ok());
  EXPECT_FALSE(parse_catalog_json("not json").ok());
}

TEST(SseFormatTest, DurableEventsCarryTheirId) {
  EXPECT_EQ(format_sse({7, "stock.changed", {{"sku", "A"}}, 0}),
            "id: 7\nevent: stock.changed\ndata: {\"sku\":\"A\"}\n\n");
  EXPECT_EQ(format_sse({0, "runner.updated", {{"id", "r1"}}, 0}),
            "event: runner.updated\ndata: {\"id\":\"r1\"}\n\n");
}

}  // namespace
}  // namespace shopeasy::edge::api
