// Package badinput holds relaybus's bad-input campaign: the whole pipeline,
// in-process, fed a corpus of malformed connector frames and agent actions
// (with the fuzzers' findings) between valid traffic, checking that every
// bad item is dead-lettered with its reason, every bad action is answered,
// valid traffic arrives exactly once and nothing crashes.
package badinput
