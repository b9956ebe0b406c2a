#pragma once
// Metric samples held between a thread that counts and a scrape that reads. A stage writes its metrics into a
// MetricSamples when it publishes (on its own thread, about once a second); a scrape adds every shard's copy
// into a SummedMetrics, which sums samples of the same series (counters and per-shard gauges alike), and
// writes the totals out. So a detector's counters reach Prometheus from its one declaration, whatever the
// number of shards, without any code that knows its fields.
#include <flowguard/core/counters.hpp>

#include <map>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace flowguard {

class MetricSamples final : public MetricSink {
public:
    using MetricSink::add;
    void add(std::string_view name, std::span<const std::string_view> label_values, double value) override {
        Sample s{std::string(name), {}, value};
        for (auto l : label_values) s.labels.emplace_back(l);
        samples_.push_back(std::move(s));
    }
    void write_to(MetricSink& sink) const {
        std::vector<std::string_view> labels;
        for (const auto& s : samples_) {
            labels.assign(s.labels.begin(), s.labels.end());
            sink.add(s.name, labels, s.value);
        }
    }
    void clear() { samples_.clear(); }

private:
    struct Sample {
        std::string name;
        std::vector<std::string> labels;
        double value = 0;
    };
    std::vector<Sample> samples_;
};

class SummedMetrics final : public MetricSink {
public:
    using MetricSink::add;
    void add(std::string_view name, std::span<const std::string_view> label_values, double value) override {
        Key key{std::string(name), {}};
        for (auto l : label_values) key.second.emplace_back(l);
        totals_[std::move(key)] += value;
    }
    void write_to(MetricSink& sink) const {
        std::vector<std::string_view> labels;
        for (const auto& [key, value] : totals_) {
            labels.assign(key.second.begin(), key.second.end());
            sink.add(key.first, labels, value);
        }
    }

private:
    using Key = std::pair<std::string, std::vector<std::string>>;
    std::map<Key, double> totals_;
};

}  // namespace flowguard
