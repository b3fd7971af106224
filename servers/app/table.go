package app

import "strconv"

// Record is one row of the in-memory user table the app route reads.
type Record struct {
	ID    string
	Name  string
	Email string
	City  string
}

// field returns the value of the named column, and whether it exists.
func (r *Record) field(name string) (string, bool) {
	switch name {
	case "id":
		return r.ID, true
	case "name":
		return r.Name, true
	case "email":
		return r.Email, true
	case "city":
		return r.City, true
	}
	return "", false
}

// TableSize is the number of users in the table; their ids are 1..TableSize.
const TableSize = 1000

var (
	firstNames = []string{"Ada", "Grace", "Linus", "Barbara", "Ken", "Margaret", "Dennis", "Frances", "Rob", "Radia", "Edsger", "Hedy"}
	lastNames  = []string{"Lovelace", "Hopper", "Torvalds", "Liskov", "Thompson", "Hamilton", "Ritchie", "Allen", "Pike", "Perlman", "Dijkstra", "Lamarr", "O\"Neil"}
	cities     = []string{"London", "New York", "Helsinki", "Los Angeles", "Murray Hill", "Boston", "Bronxville", "Zürich", "Vienna", "Sydney", "Tab\tCity"}
)

// newTable builds the deterministic user table, keyed by id.
func newTable() map[string]*Record {
	t := make(map[string]*Record, TableSize)
	for i := 1; i <= TableSize; i++ {
		first := firstNames[i%len(firstNames)]
		last := lastNames[(i/len(firstNames))%len(lastNames)]
		id := strconv.Itoa(i)
		t[id] = &Record{
			ID:    id,
			Name:  first + " " + last,
			Email: first + "." + id + "@example.org",
			City:  cities[(i*7)%len(cities)],
		}
	}
	return t
}
