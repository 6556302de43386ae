package main

//go:generate go run ./tools/gqlgen
