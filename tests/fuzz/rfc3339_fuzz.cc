// ParseRfc3339 on any text: never reads past its input, and whatever it
// accepts formats back to a time it reads as the same instant.
#include "common/clock.h"
#include "tests/fuzz/fuzz_target.h"

FUZZ_TARGET(rfc3339) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto parsed = remotegpu::ParseRfc3339(text);
  if (!parsed.ok()) return 0;
  // Years this side of 1970..9999 only: FormatRfc3339 prints four digits.
  if (*parsed < 0 || *parsed >= 253'402'300'800'000'000) return 0;
  auto again = remotegpu::ParseRfc3339(remotegpu::FormatRfc3339(*parsed));
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(*again == *parsed);
  return 0;
}
