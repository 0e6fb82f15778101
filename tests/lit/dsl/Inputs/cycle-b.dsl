// Part of import-cycle.dsl: b → a closes the cycle.
import "cycle-a.dsl"
