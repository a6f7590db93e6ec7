// Routing the JMS core's deliveries to the STOMP connections that own the consumers.
#include "net/stomp/service.h"

#include "net/stomp/connection.h"

namespace mqlab::net::stomp {

void service::route() {
  // A delivery may lead to another (an automatic acknowledgement frees prefetch room), so drain
  // until the core has nothing left.
  for (auto batch = core_.take_deliveries(); !batch.empty(); batch = core_.take_deliveries()) {
    for (const auto& d : batch) {
      if (auto it = owners_.find(d.consumer); it != owners_.end()) it->second->deliver(d);
    }
  }
}

void service::advance(broker::instant now) {
  core_.advance(now);
  route();
}

}  // namespace mqlab::net::stomp
