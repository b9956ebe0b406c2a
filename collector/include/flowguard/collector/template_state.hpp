#pragma once
// The template state file: templates held at stop, loaded at start, so data that arrives after a restart
// decodes before exporters resend their templates (FortiGate resends every 30 minutes by default).
// Format: JSON lines, one template each; written to a temporary file and renamed, so a crash mid-write
// never leaves a torn file.
#include <flowguard/collector/flow_decoder.hpp>

#include <functional>
#include <string>
#include <vector>

namespace flowguard::collector {

struct StateFileResult {
    std::size_t templates = 0;  // saved, or loaded into each decoder
    std::size_t rejected = 0;   // lines that were malformed or refused by the decoder's limits
};

// Each distinct (stream, template id) held by any of the decoders, once: templates restored from the state
// file sit in every decoder.
void for_each_distinct_template(const std::vector<const FlowDecoder*>& decoders,
                                const std::function<void(const TemplateSnapshot&)>& visit);

StateFileResult save_template_state(const std::string& path, const std::vector<const FlowDecoder*>& decoders);
// A missing file is no error (first start). Throws std::runtime_error if the file exists but cannot be read.
StateFileResult load_template_state(const std::string& path, const std::vector<FlowDecoder*>& decoders);
// The same from a stream: one JSON object per line; a damaged line costs its template only (`rejected`).
StateFileResult read_template_state(std::istream& in, const std::vector<FlowDecoder*>& decoders);

// What `collect` and `run` do at start and stop ("" = no state file): load or save, and log what was done.
// Never throw: a state file that cannot be read or written is logged and the collector goes on without it.
void restore_templates(const std::string& path, const std::vector<FlowDecoder*>& decoders);
void persist_templates(const std::string& path, const std::vector<const FlowDecoder*>& decoders);

}  // namespace flowguard::collector
