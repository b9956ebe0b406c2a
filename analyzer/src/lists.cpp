#include <flowguard/analyzer/lists.hpp>

namespace flowguard::analyzer {

std::shared_ptr<const AnalyzerLists> load_lists(const AnalyzerConfig& config) {
    auto lists = std::make_shared<AnalyzerLists>(
        AnalyzerLists{IocList::sunburst(), config.beacon.allow_ports, config.beacon.allow_domains});
    for (const auto& file : config.ioc_files) lists->iocs.load_file(file);  // throws naming file:line
    return lists;
}

}  // namespace flowguard::analyzer
