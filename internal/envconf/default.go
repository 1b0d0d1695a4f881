package envconf

// Default returns a C whose declared fields hold their defaults: vars
// declares them on a zero C, and [Defaults] sets them. It is a
// DefaultConfig less what is not a variable (a stage's version, which
// stage.ConfigSpec adds):
//
//	func DefaultConfig() Config { return envconf.Default((*Config).Vars) }
func Default[C any](vars func(*C) []Var) C {
	var c C
	Defaults(vars(&c)...)
	return c
}
