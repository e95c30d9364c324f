// cachepack: inspect, convert and move compile-cache artifacts.
#include "tools/cli.h"

int main(int argc, char** argv) { return cachepack::cli::run_cli(argc, argv); }
