// Part of import-cycle.dsl: a → b → a.
import "cycle-b.dsl"
