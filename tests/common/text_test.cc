// Parsers and formatters of text that comes from outside: RFC 3339 times
// and CSV cells.
#include <gtest/gtest.h>

#include "common/clock.h"
#include "common/csv.h"

namespace remotegpu {
namespace {

TEST(ParseRfc3339, ReadsOffsetsAndFractions) {
  EXPECT_EQ(*ParseRfc3339("1970-01-01T00:00:01Z"), 1'000'000);
  EXPECT_EQ(*ParseRfc3339("1970-01-01T08:00:01+08:00"), 1'000'000);
  EXPECT_EQ(*ParseRfc3339("1970-01-01T00:00:01.5-00:30"), 1'000'000 + 500'000 + 1'800'000'000);
}

// Regression: "+1" was read as an offset and the parser then stepped six
// characters on, past the end of the text.
TEST(ParseRfc3339, ShortOrMalformedOffsetsAreRefusedWithoutReadingPastTheEnd) {
  for (const char* text :
       {"2026-11-22T09:30:00+", "2026-11-22T09:30:00+1", "2026-11-22T09:30:00+1:2",
        "2026-11-22T09:30:00+01:", "2026-11-22T09:30:00+01:0", "2026-11-22T09:30:00+0100",
        "2026-11-22T09:30:00+24:00", "2026-11-22T09:30:00+01:60", "2026-11-22T09:30:00-",
        "2026-11-22T09:30:00+a1:00"}) {
    EXPECT_FALSE(ParseRfc3339(text).ok()) << text;
  }
  EXPECT_FALSE(ParseRfc3339(std::string("2026-11-22T09:30:00Z\0junk", 25)).ok());
  EXPECT_FALSE(ParseRfc3339(std::string(1000, '9')).ok());
}

TEST(CsvField, QuotesWhatRfc4180Needs) {
  EXPECT_EQ(CsvField("plain"), "plain");
  EXPECT_EQ(CsvField("a,b"), "\"a,b\"");
  EXPECT_EQ(CsvField("say \"hi\""), "\"say \"\"hi\"\"\"");
}

// Regression: a name typed by a customer as =HYPERLINK(…) ran as a formula in
// the operator's spreadsheet.
TEST(CsvField, NeutralisesFormulasButKeepsNumbers) {
  EXPECT_EQ(CsvField("=1+2"), "'=1+2");
  EXPECT_EQ(CsvField("+cmd"), "'+cmd");
  EXPECT_EQ(CsvField("-2+3"), "'-2+3");
  EXPECT_EQ(CsvField("@SUM(A1)"), "'@SUM(A1)");
  EXPECT_EQ(CsvField("\tx"), "'\tx");
  EXPECT_EQ(CsvField("=HYPERLINK(\"http://x\",\"y\")"),
            "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\"");
  EXPECT_EQ(CsvField("-12.50"), "-12.50");
  EXPECT_EQ(CsvField("+3"), "+3");
  EXPECT_EQ(CsvField("-"), "'-");
  EXPECT_EQ(CsvField(""), "");
}

}  // namespace
}  // namespace remotegpu
