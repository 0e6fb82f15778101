// spak-apply-laws diagnoses malformed laws.
// RUN: spak-opt %s --allow-unregistered-dialect -split-input-file -spak-apply-laws -verify-diagnostics

// expected-error @+1 {{law 'tile_m' = 96 (rules/targets/x.dsl:3:3) must be a power of two}}
module attributes {spak.laws = {tile_m = #spak_tile.law<"tile_m", 96, "rules/targets/x.dsl:3:3">}} {
}

// -----

// expected-error @+1 {{law 'k_lat' (x.dsl:4:3) must be a positive integer}}
module attributes {spak.laws = {k_lat = #spak_tile.law<"k_lat", 0, "x.dsl:4:3">}} {
}

// -----

// expected-error @+1 {{'spak.laws' entry 'tile_n' must be a #spak_tile.law, got 64 : i64}}
module attributes {spak.laws = {tile_n = 64}} {
}

// -----

// expected-error @+1 {{'spak.laws' entry 'tile_n' holds law 'tile_m'}}
module attributes {spak.laws = {tile_n = #spak_tile.law<"tile_m", 64, "default">}} {
}
