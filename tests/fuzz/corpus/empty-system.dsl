system S { }
