target t "GPU" {
  law tile_m = 64   law v_lat = 5
  stability_floor = -1e20
  arch: "sm_90a"
}
