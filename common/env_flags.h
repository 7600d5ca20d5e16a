// Flags from the environment for boost::program_options: PREFIX_SOME_NAME
// sets --some-name when the program has that flag. Header-only, for the
// binaries' main files.
#pragma once

#include <cctype>
#include <string>

#include <boost/program_options.hpp>

namespace remotegpu {

// Stores `argv`, then the `prefix` variables, then (when the program has a
// --config flag and it names a file) that file's "name = value" lines into
// `vars`: the command line wins, then the environment. Throws what
// program_options throws for a bad flag or an unreadable file.
inline void StoreFlags(int argc, char** argv, const std::string& prefix,
                       const boost::program_options::options_description& flags,
                       boost::program_options::variables_map& vars) {
  namespace po = boost::program_options;
  po::store(po::parse_command_line(argc, argv, flags), vars);
  po::store(po::parse_environment(flags,
                                  [&](const std::string& variable) -> std::string {
                                    if (variable.rfind(prefix, 0) != 0) return "";
                                    std::string name = variable.substr(prefix.size());
                                    for (char& c : name) {
                                      c = c == '_' ? '-' : static_cast<char>(std::tolower(c));
                                    }
                                    return flags.find_nothrow(name, false) ? name : "";
                                  }),
            vars);
  if (flags.find_nothrow("config", false) != nullptr && vars.count("config") != 0) {
    const std::string file = vars["config"].as<std::string>();
    if (!file.empty()) po::store(po::parse_config_file(file.c_str(), flags), vars);
  }
  po::notify(vars);
}

}  // namespace remotegpu
