#include <flowguard/exporters/finding_ledger.hpp>

#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

using namespace flowguard;
using namespace flowguard::exporters;

namespace {

constexpr std::uint64_t kSecond = 1'000'000'000ull;
constexpr std::uint64_t kHour = 3600 * kSecond;
constexpr std::uint64_t kT0 = 1'700'000'000 * kSecond;

// What the outputs behind the ledger received.
struct Recorder final : AlertSink {
    std::string_view name() const override { return "recorder"; }
    void publish(std::span<const Alert> alerts) override {
        received.insert(received.end(), alerts.begin(), alerts.end());
    }
    std::vector<Alert> received;
};

Alert finding(const std::string& key, std::uint64_t first, std::uint64_t last, AlertStatus status = AlertStatus::open) {
    Alert a;
    a.kind = "beacon";
    a.severity = Severity::high;
    a.status = status;
    a.score = 0.93;
    a.src_addr = *IpAddress::parse("10.0.0.5");
    a.dst_addr = *IpAddress::parse("198.51.100.7");
    a.dst_port = 443;
    a.proto = 6;
    a.first_seen_ns = first;
    a.last_seen_ns = last;
    a.dedup_key = key;
    a.id = key + "@" + std::to_string(first / kSecond);
    a.techniques = {"T1071.001"};
    a.evidence = {{"connections", 40}};
    return a;
}

LedgerSettings settings(std::string state_file = {}) {
    return {std::move(state_file), 24 * kHour, 100, "sensor-1"};
}

struct TempDir {
    TempDir() {
        char pattern[] = "/tmp/flowguard-ledger-XXXXXX";
        path = mkdtemp(pattern);
    }
    ~TempDir() { std::filesystem::remove_all(path); }
    std::filesystem::path path;
};

}  // namespace

TEST_CASE("finding ledger: open once, updates keep the id, ongoing is not delivered, quiet findings resolve") {
    Recorder out;
    FindingLedger ledger(settings(), {&out});
    ledger.tick(kT0);
    const Alert opened = finding("beacon:10.0.0.5:evil.example", kT0 - kHour, kT0 - kSecond);
    ledger.publish(std::vector<Alert>{opened});
    REQUIRE(out.received.size() == 1);
    CHECK(out.received[0].status == AlertStatus::open);
    CHECK(out.received[0].sensor == "sensor-1");
    CHECK(out.received[0].raised_ns == kT0);
    CHECK(out.received[0].expires_ns == kT0 + 48 * kHour);

    // Found again (a detector that restarted) and ongoing within the hour: nothing delivered.
    ledger.tick(kT0 + kHour / 4);
    ledger.publish(std::vector<Alert>{finding(opened.dedup_key, kT0 + kHour / 4, kT0 + kHour / 4)});
    ledger.tick(kT0 + kHour / 2);
    ledger.publish(std::vector<Alert>{finding(opened.dedup_key, kT0 - kHour, kT0 + kHour / 2, AlertStatus::ongoing)});
    CHECK(out.received.size() == 1);
    CHECK(ledger.stats().found_again == 1);

    ledger.tick(kT0 + 2 * kHour);
    Alert update = finding(opened.dedup_key, kT0 + 2 * kHour, kT0 + 2 * kHour, AlertStatus::updated);
    update.evidence["series"] = "two";
    ledger.publish(std::vector<Alert>{update});
    REQUIRE(out.received.size() == 2);
    CHECK(out.received[1].status == AlertStatus::updated);
    CHECK(out.received[1].id == out.received[0].id);
    CHECK(out.received[1].first_seen_ns == kT0 - kHour);
    CHECK(out.received[1].raised_ns == kT0);

    // Nothing heard for 24 h after kT0 + 2 h: resolved once, then gone.
    ledger.tick(kT0 + 25 * kHour);
    CHECK(out.received.size() == 2);
    ledger.tick(kT0 + 26 * kHour);
    REQUIRE(out.received.size() == 3);
    CHECK(out.received[2].status == AlertStatus::resolved);
    CHECK(out.received[2].id == out.received[0].id);
    CHECK(out.received[2].resolved_ns == kT0 + 26 * kHour);
    CHECK(out.received[2].last_seen_ns == kT0 + 2 * kHour);  // the finding's own last event
    CHECK(ledger.stats().open == 0);
    ledger.tick(kT0 + 40 * kHour);
    CHECK(out.received.size() == 3);

    // The behaviour comes back after its resolution: a new finding (new id).
    ledger.tick(kT0 + 41 * kHour);
    ledger.publish(std::vector<Alert>{finding(opened.dedup_key, kT0 - kHour, kT0 + 41 * kHour, AlertStatus::ongoing)});
    REQUIRE(out.received.size() == 4);
    CHECK(out.received[3].status == AlertStatus::open);
    CHECK(out.received[3].id != out.received[0].id);
}

TEST_CASE("finding ledger: activity is the ledger's clock, not an exporter's") {
    // Records stamped in 2023 reach a daemon running now: the finding is open until the ledger's clock says
    // it went quiet, not resolved at once because its event time is old.
    Recorder out;
    FindingLedger ledger(settings(), {&out});
    ledger.tick(kT0 + 1000 * kHour);
    ledger.publish(std::vector<Alert>{finding("ioc:10.0.0.5:evil.example", kT0, kT0)});
    ledger.tick(kT0 + 1010 * kHour);
    CHECK(out.received.size() == 1);
    CHECK(ledger.stats().open == 1);
}

TEST_CASE("finding ledger: ongoing findings are re-asserted (for Alertmanager) with a later expiry") {
    Recorder out;
    FindingLedger ledger(settings(), {&out});
    ledger.tick(kT0);
    const auto key = std::string("ioc:10.0.0.5:evil.example");
    ledger.publish(std::vector<Alert>{finding(key, kT0, kT0)});
    ledger.tick(kT0 + kHour + kSecond);
    ledger.publish(std::vector<Alert>{finding(key, kT0, kT0 + kHour + kSecond, AlertStatus::ongoing)});
    REQUIRE(out.received.size() == 2);
    CHECK(out.received[1].status == AlertStatus::ongoing);
    CHECK(out.received[1].expires_ns == kT0 + 49 * kHour + kSecond);
    CHECK(ledger.stats().reasserted == 1);
    // The finding itself stays open: an update after the re-assertion is an update of an open finding.
    ledger.tick(kT0 + 2 * kHour);
    ledger.publish(std::vector<Alert>{finding(key, kT0, kT0 + 2 * kHour, AlertStatus::updated)});
    REQUIRE(out.received.size() == 3);
    CHECK(out.received[2].status == AlertStatus::updated);
    CHECK(out.received[2].id == out.received[0].id);
}

TEST_CASE("finding ledger: open findings survive a restart; a corrupt state file is set aside") {
    TempDir dir;
    const auto file = (dir.path / "findings.json").string();
    const auto key = std::string("sunburst:10.0.0.9:0123456789abcdef");
    std::string first_id;
    {
        Recorder out;
        FindingLedger ledger(settings(file), {&out});
        ledger.tick(kT0);
        Alert a = finding(key, kT0, kT0);
        a.kind = "sunburst_dns";
        a.query_name = "r1q6arhpujcf6jb6ervisu10odohu0it.appsync-api.us-west-2.avsvmcloud.com";
        a.domain = "avsvmcloud.com";
        ledger.publish(std::vector<Alert>{a});
        first_id = out.received.at(0).id;
        CHECK(std::filesystem::exists(file));
    }
    {
        Recorder out;
        FindingLedger ledger(settings(file), {&out});
        CHECK(ledger.stats().open == 1);
        ledger.tick(kT0 + kHour / 4);
        ledger.publish(std::vector<Alert>{finding(key, kT0 + kHour / 4, kT0 + kHour / 4)});  // found again
        CHECK(out.received.empty());
        ledger.tick(kT0 + 30 * kHour);
        REQUIRE(out.received.size() == 1);
        CHECK(out.received[0].status == AlertStatus::resolved);
        CHECK(out.received[0].id == first_id);
        CHECK(out.received[0].kind == "sunburst_dns");
        CHECK(out.received[0].query_name.starts_with("r1q6arhpujcf6jb6"));
        CHECK(out.received[0].dst_port == 443);
        CHECK(out.received[0].proto == 6);
    }
    {
        std::ofstream(file) << "{\"version\":1,\"findings\":[{\"alert\":";
        Recorder out;
        FindingLedger ledger(settings(file), {&out});
        CHECK(ledger.stats().open == 0);
        CHECK(ledger.stats().state_errors == 1);
        CHECK(std::filesystem::exists(file + ".corrupt"));
    }
}

TEST_CASE("finding ledger: at max_open the quietest finding is resolved to make room") {
    Recorder out;
    auto s = settings();
    s.max_open = 2;
    FindingLedger ledger(s, {&out});
    ledger.tick(kT0);
    ledger.publish(std::vector<Alert>{finding("b", kT0, kT0 + kSecond)});
    ledger.tick(kT0 + kSecond);
    ledger.publish(std::vector<Alert>{finding("a", kT0, kT0 + 2 * kSecond)});
    ledger.tick(kT0 + 2 * kSecond);
    ledger.publish(std::vector<Alert>{finding("c", kT0, kT0 + 3 * kSecond)});
    REQUIRE(out.received.size() == 4);
    CHECK(out.received[2].status == AlertStatus::resolved);
    CHECK(out.received[2].dedup_key == "b");
    CHECK(out.received[3].dedup_key == "c");
    CHECK(ledger.stats().evicted == 1);
    CHECK(ledger.stats().open == 2);
}
