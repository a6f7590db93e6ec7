// RabbitMQ's credit flow between a publisher and another node's queues ({400, 200}): a connection
// with 400 forwards its queues' owner has not credited stops being read; the owner grants 200
// per 200 forwards handled, oldest first, and a lost link forgives what was sent on it.
#include <gtest/gtest.h>

#include "net/amqp/credit_flow.h"

namespace mqlab::net::amqp {
namespace {

TEST(CreditFlow, AConnectionIsInFlowOnceFourHundredForwardsAreUncredited) {
  credit_flow sender(3);
  for (int i = 0; i < 399; ++i) sender.forwarded(0, 7);
  EXPECT_FALSE(sender.in_flow(7));
  sender.forwarded(0, 7);
  EXPECT_TRUE(sender.in_flow(7));
  EXPECT_FALSE(sender.in_flow(8)) << "another connection keeps its credit";
}

TEST(CreditFlow, TheOwnerGrantsTwoHundredPerTwoHundredHandled) {
  credit_flow owner(3);
  int granted = 0;
  for (int i = 0; i < 599; ++i) granted += static_cast<int>(owner.handled(1));
  EXPECT_EQ(granted, 400) << "two grants of 200; the 199 since the last wait for the next";
  EXPECT_EQ(owner.handled(1), 200u);
  EXPECT_EQ(owner.handled(2), 0u) << "each sending node is counted apart";
}

TEST(CreditFlow, CreditSettlesTheOldestForwardsFirst) {
  credit_flow sender(3);
  for (int i = 0; i < 300; ++i) sender.forwarded(0, 5);
  for (int i = 0; i < 500; ++i) sender.forwarded(0, 6);
  EXPECT_TRUE(sender.in_flow(6));
  EXPECT_TRUE(sender.granted(0, 200).empty()) << "the first 200 were connection 5's";
  EXPECT_TRUE(sender.granted(0, 200).empty()) << "the next: 5's last 100 and 100 of 6's";
  EXPECT_TRUE(sender.in_flow(6)) << "6 still has 400 uncredited";
  const auto free = sender.granted(0, 1);
  ASSERT_EQ(free.size(), 1u);
  EXPECT_EQ(free[0], 6u);
  EXPECT_FALSE(sender.in_flow(6));
}

TEST(CreditFlow, ALostLinkForgivesWhatWasSentOnIt) {
  credit_flow sender(3);
  for (int i = 0; i < 250; ++i) sender.forwarded(0, 9);
  for (int i = 0; i < 250; ++i) sender.forwarded(2, 9);
  ASSERT_TRUE(sender.in_flow(9));
  const auto free = sender.lost(2);
  ASSERT_EQ(free.size(), 1u);
  EXPECT_FALSE(sender.in_flow(9));
  for (int i = 0; i < 150; ++i) sender.forwarded(2, 9);
  EXPECT_TRUE(sender.in_flow(9)) << "node 0 still owes credit for 250";
  EXPECT_TRUE(sender.granted(1, 200).empty()) << "node 1 was sent nothing: its credit settles nothing";
}

TEST(CreditFlow, ForwardsNoConnectionPublishedHereCountOnTheLinkOnly) {
  credit_flow sender(2);
  for (int i = 0; i < 200; ++i) sender.forwarded(1, 0);
  for (int i = 0; i < 400; ++i) sender.forwarded(1, 4);
  EXPECT_FALSE(sender.in_flow(0));
  EXPECT_TRUE(sender.granted(1, 200).empty()) << "the link's oldest 200 were the unattributed ones";
  EXPECT_TRUE(sender.in_flow(4));
}

}  // namespace
}  // namespace mqlab::net::amqp
