// What every decider gets besides state and command: the aggregate's stream
// id and the time, both injected so that deciders stay pure.
#pragma once

#include <string>

#include "common/clock.h"

namespace remotegpu::domain {

struct DecideContext {
  std::string stream_id;  // "host-42"
  UnixMicros now_us = 0;
};

}  // namespace remotegpu::domain
