#include "spak/Conversion/GraphToTile/Lowering.h"
void spak::tile::populateOptimizerLowerings(LoweringTable &) {}
