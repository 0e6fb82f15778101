// spak_tile.convert f32 -> bf16 -> f32 over one 1 x 8 tile (EmitRunTest "cpp: spak_tile.convert ...").
spak_tile.kernel @roundtrip(%x: !spak_tile.buffer<1x8xf32>, %h: !spak_tile.buffer<1x8xbf16>, %y: !spak_tile.buffer<1x8xf32>) attributes {grid = ["1"], math = "h = bf16(x); y = f32(h)"} {
  %c0 = arith.constant 0 : index
  %t = spak_tile.load %x[%c0, %c0] : !spak_tile.buffer<1x8xf32> -> !spak_tile.tile<1x8xf32>
  %b = spak_tile.convert %t : !spak_tile.tile<1x8xf32> -> !spak_tile.tile<1x8xbf16>
  spak_tile.store %b, %h[%c0, %c0] : !spak_tile.tile<1x8xbf16>, !spak_tile.buffer<1x8xbf16>
  %l = spak_tile.load %h[%c0, %c0] : !spak_tile.buffer<1x8xbf16> -> !spak_tile.tile<1x8xbf16>
  %f = spak_tile.convert %l : !spak_tile.tile<1x8xbf16> -> !spak_tile.tile<1x8xf32>
  spak_tile.store %f, %y[%c0, %c0] : !spak_tile.tile<1x8xf32>, !spak_tile.buffer<1x8xf32>
  spak_tile.return
}
