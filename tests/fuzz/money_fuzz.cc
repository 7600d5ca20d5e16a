// ParseYuan on any text: what it accepts formats back to text it reads as
// the same number of fen.
#include "domain/money.h"
#include "tests/fuzz/fuzz_target.h"

FUZZ_TARGET(money) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto fen = remotegpu::domain::ParseYuan(text);
  if (!fen.ok()) return 0;
  auto again = remotegpu::domain::ParseYuan(remotegpu::domain::FormatYuan(*fen));
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(*again == *fen);
  return 0;
}
