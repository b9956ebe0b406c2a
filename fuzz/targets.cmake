# The libFuzzer targets and the libraries each links: fuzz/CMakeLists.txt builds them, tests/CMakeLists.txt
# replays their corpora. A new target is one line here: "name=library,library".
set(flowguard_fuzz_targets
  "flow_decoder=flowguard::collector"
  "packet=flowguard::collector,flowguard::analyzer"
  "config=flowguard_app"
  "log_lines=flowguard::exporters"
  "webhook_url=flowguard::exporters"
  "template_state=flowguard::collector"
  "ioc_list=flowguard::analyzer"
  "graph_state=flowguard::analyzer"
  "metrics_request=flowguard::exporters"
  "spool=flowguard::exporters")

# Calls `callback(name lib...)` for each target.
function(flowguard_for_each_fuzz_target callback)
  foreach(entry ${flowguard_fuzz_targets})
    string(REPLACE "=" ";" parts "${entry}")
    list(GET parts 0 name)
    list(GET parts 1 libs)
    string(REPLACE "," ";" libs "${libs}")
    cmake_language(CALL ${callback} ${name} ${libs})
  endforeach()
endfunction()
