package envconf

// Default returns a C whose declared fields hold their defaults: vars
// declares them on a zero C, and [Defaults] sets them. It is a stage's
// DefaultConfig, less what is not a variable (such as the version):
//
//	func DefaultConfig() Config {
//		c := envconf.Default((*Config).vars)
//		c.Version = stage.Version
//		return c
//	}
func Default[C any](vars func(*C) []Var) C {
	var c C
	Defaults(vars(&c)...)
	return c
}
