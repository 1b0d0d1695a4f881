package bus

// Exported for tests.
var (
	SameStream = sameStream
	SameBucket = sameBucket
)
