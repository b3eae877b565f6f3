#include "services/abuse/abuse_controls.hpp"

#include <gtest/gtest.h>

namespace tern::abuse {
namespace {

std::shared_ptr<const Config> config_with(LimitsConfig limits, bool greylisting = false) {
  auto c = std::make_shared<Config>();
  c->limits = limits;
  c->checks.greylisting = greylisting;
  c->smtp.trusted_networks = {*IpNetwork::parse("10.0.0.0/8")};
  return c;
}

TEST(ClientPolicy, AuthenticatedUsersHaveTheirOwnHourlyLimits) {
  AbuseControls controls;
  LimitsConfig l;
  l.messages_per_user = 2;
  l.recipients_per_user = 3;
  auto cfg = config_with(l);
  ClientPolicy a(&controls, cfg->limits, false, "192.0.2.1", false);
  ClientPolicy b(&controls, cfg->limits, false, "192.0.2.2", false);  // same user, another address
  EXPECT_FALSE(a.on_mail("alice@example.test"));
  EXPECT_FALSE(b.on_mail("alice@example.test"));
  auto refused = a.on_mail("alice@example.test");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->code, 451);
  EXPECT_EQ(refused->enhanced, "4.7.1");
  EXPECT_FALSE(a.on_mail("bob@example.test"));
  using V = ClientPolicy::RcptVerdict;
  EXPECT_EQ(a.on_recipient("alice@example.test", "a", "x"), V::ok);
  EXPECT_EQ(a.on_recipient("alice@example.test", "a", "y"), V::ok);
  EXPECT_EQ(b.on_recipient("alice@example.test", "a", "z"), V::ok);
  EXPECT_EQ(b.on_recipient("alice@example.test", "a", "w"), V::rate_limited);
}

TEST(ClientPolicy, PerIpLimitsOnlyWhereChecksApply) {
  AbuseControls controls;
  LimitsConfig l;
  l.messages_per_ip = 1;
  auto cfg = config_with(l);
  ClientPolicy checked(&controls, cfg->limits, false, "192.0.2.1", true);
  EXPECT_FALSE(checked.on_mail(""));
  EXPECT_TRUE(checked.on_mail(""));
  ClientPolicy unchecked(&controls, cfg->limits, false, "192.0.2.1", false);
  EXPECT_FALSE(unchecked.on_mail(""));
  EXPECT_FALSE(unchecked.on_mail(""));
}

TEST(ClientPolicy, BlockRefusesEveryMailButNotAuthenticatedOnes) {
  AbuseControls controls;
  ClientPolicy p(&controls, LimitsConfig{}, false, "192.0.2.9", true);
  p.block(smtp::Reply{554, "5.7.1", "listed"});
  EXPECT_EQ(p.on_mail("")->code, 554);
  EXPECT_EQ(p.on_mail("")->code, 554);
  EXPECT_FALSE(p.on_mail("alice@example.test"));
}

TEST(ClientPolicy, GreylistingDefersUntilAcceptedThenWhitelists) {
  AbuseControls controls;
  auto cfg = config_with({}, /*greylisting=*/true);
  ClientPolicy p(&controls, cfg->limits, true, "192.0.2.7", true);
  using V = ClientPolicy::RcptVerdict;
  EXPECT_EQ(p.on_recipient("", "s@x.test", "r@y.test"), V::greylisted);
  p.on_accepted();  // e.g. a message to another recipient got through later
  ClientPolicy same_net(&controls, cfg->limits, true, "192.0.2.200", true);
  EXPECT_EQ(same_net.on_recipient("", "s@x.test", "new@y.test"), V::ok);
}

TEST(TrustedNetworks, Membership) {
  auto cfg = config_with({});
  EXPECT_TRUE(in_trusted_network(*cfg, "10.1.2.3"));
  EXPECT_FALSE(in_trusted_network(*cfg, "192.0.2.1"));
  EXPECT_FALSE(in_trusted_network(*cfg, "not an ip"));
}

}  // namespace
}  // namespace tern::abuse
