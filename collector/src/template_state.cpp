#include <flowguard/collector/template_state.hpp>
#include <flowguard/core/state_file.hpp>

#include <boost/json.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <stdexcept>
#include <tuple>

namespace flowguard::collector {

// Every receive thread restores every template, so a stream is known to all of them but proven only on the
// thread its datagrams reach: proven in any decoder is proven. Only the keys are gathered (the summary walks
// this to count templates), each template is copied once, as it is visited.
void for_each_distinct_template(const std::vector<const FlowDecoder*>& decoders,
                                const std::function<void(const TemplateSnapshot&)>& visit) {
    using Key = std::tuple<IpAddress, std::uint16_t, std::uint16_t, std::uint32_t, std::uint16_t>;
    const auto key_of = [](const TemplateSnapshot& t) {
        return Key{t.stream.exporter, t.stream.port, t.stream.version, t.stream.domain, t.id};
    };
    std::map<Key, bool> proven;  // a key leaves once visited
    for (const auto* d : decoders)
        d->for_each_template([&](const TemplateSnapshot& t) { proven[key_of(t)] |= t.proven; });
    for (const auto* d : decoders) {
        d->for_each_template([&](const TemplateSnapshot& t) {
            const auto it = proven.find(key_of(t));
            if (it == proven.end()) return;
            TemplateSnapshot merged = t;
            merged.proven = it->second;
            proven.erase(it);
            visit(merged);
        });
    }
}

StateFileResult save_template_state(const std::string& path, const std::vector<const FlowDecoder*>& decoders) {
    StateFileResult result;
    const std::string error = replace_file(path, [&](std::ostream& out) {
        for_each_distinct_template(decoders, [&](const TemplateSnapshot& t) {
            boost::json::array fields;
            for (const auto& f : t.fields) fields.push_back(boost::json::array{f.id, f.length, f.enterprise});
            boost::json::object o{{"exporter", t.stream.exporter.to_string()},
                                  {"port", t.stream.port},
                                  {"version", t.stream.version},
                                  {"domain", t.stream.domain},
                                  {"id", t.id},
                                  {"options", t.options},
                                  {"scope_fields", t.scope_field_count},
                                  {"fields", std::move(fields)},
                                  {"proven", t.proven}};
            out << boost::json::serialize(o) << '\n';
            ++result.templates;
        });
    });
    if (!error.empty()) throw std::runtime_error("template state: " + error);
    return result;
}

StateFileResult load_template_state(const std::string& path, const std::vector<FlowDecoder*>& decoders) {
    if (!std::filesystem::exists(path)) return {};
    std::ifstream in(path);
    if (!in) throw std::runtime_error(fmt::format("cannot read template state '{}': {}", path, std::strerror(errno)));
    return read_template_state(in, decoders);
}

StateFileResult read_template_state(std::istream& in, const std::vector<FlowDecoder*>& decoders) {
    StateFileResult result;
    std::string line;
    while (std::getline(in, line)) {
        try {
            const auto o = boost::json::parse(line).as_object();
            TemplateSnapshot t;
            const auto addr = IpAddress::parse(std::string(o.at("exporter").as_string()));
            if (!addr) throw std::invalid_argument("exporter");
            t.stream.exporter = *addr;
            t.stream.port = o.at("port").to_number<std::uint16_t>();
            t.stream.version = o.at("version").to_number<std::uint16_t>();
            t.stream.domain = o.at("domain").to_number<std::uint32_t>();
            t.id = o.at("id").to_number<std::uint16_t>();
            t.options = o.at("options").as_bool();
            t.scope_field_count = o.at("scope_fields").to_number<std::uint16_t>();
            if (const auto* proven = o.if_contains("proven")) t.proven = proven->as_bool();  // older files: probation
            for (const auto& f : o.at("fields").as_array()) {
                const auto& a = f.as_array();
                t.fields.push_back(TemplateField{a.at(0).to_number<std::uint16_t>(), a.at(1).to_number<std::uint16_t>(),
                                                 a.at(2).to_number<std::uint32_t>()});
            }
            bool ok = true;
            for (auto* d : decoders) ok = d->restore(t) && ok;
            if (ok)
                ++result.templates;
            else
                ++result.rejected;
        } catch (const std::exception&) {  // a damaged line costs that template only
            ++result.rejected;
        }
    }
    return result;
}

void restore_templates(const std::string& path, const std::vector<FlowDecoder*>& decoders) {
    if (path.empty()) return;
    try {
        const auto loaded = load_template_state(path, decoders);
        spdlog::info("template state: {} templates loaded from {} ({} rejected)", loaded.templates, path,
                     loaded.rejected);
    } catch (const std::exception& e) {
        spdlog::warn("template state not loaded: {}", e.what());
    }
}

void persist_templates(const std::string& path, const std::vector<const FlowDecoder*>& decoders) {
    if (path.empty()) return;
    try {
        const auto saved = save_template_state(path, decoders);
        spdlog::info("template state: {} templates saved to {}", saved.templates, path);
    } catch (const std::exception& e) {
        spdlog::error("template state not saved: {}", e.what());
    }
}

}  // namespace flowguard::collector
