// The user's cache folder for one kind of file ebs-flow keeps across runs (catalogue builds, files
// shipped to cluster nodes), per the XDG base directory spec.
#pragma once

#include <filesystem>
#include <string>

namespace ebs {

// $XDG_CACHE_HOME/ebs-flow/<leaf>, else $HOME/.cache/ebs-flow/<leaf>; empty when neither is set.
// A relative XDG_CACHE_HOME is ignored (the spec says so: it would name a different folder in every
// working directory). Nothing is created: each caller decides what to do when the folder cannot be.
std::filesystem::path user_cache_dir(const std::string& leaf);

}  // namespace ebs
