// The seed's laws, discovered on an RTX 5070 (Blackwell, sm_120) by FMHAv4 (see SPAK fmha_system_v4.dsl):
// tile_m = 64 is optimal (128 loses > 50%), K loads with latency 2 and V loads with latency 5 in causal mode.
target sm_120 "NVIDIA GeForce RTX 5070" {
  arch: "sm_120"
  sms: 48
  smem_per_block: 101376

  law tile_m = 64
  law tile_n = 64
  law tile_k = 32
  law k_lat = 2
  law v_lat = 5
  law stages = 2
  law warps = 4
  law row_tile = 4
  law vec_width = 4
  stability_floor = -1e20
  law min_ctas = 96
  law split_k_chunk = 4096
}
