package catalog

import (
	"maps"
	"slices"
	"strings"

	"github.com/jobsharp/cassandra/gen/cql"
)

// Update applies one statement to the catalog, with the checks Cassandra
// makes when it runs that statement. Skipped statements are ignored. On
// error the catalog is unchanged.
func (c *Catalog) Update(stmt cql.Stmt) error {
	n := len(c.Keyspaces)
	err := c.update(stmt)
	if err != nil {
		// Forget the keyspaces the failed statement mentioned first.
		c.Keyspaces = c.Keyspaces[:n]
	}
	return err
}

func (c *Catalog) update(stmt cql.Stmt) error {
	switch s := stmt.(type) {
	case *cql.CreateKeyspace:
		return c.createKeyspace(s)
	case *cql.AlterKeyspace:
		return c.alterKeyspace(s)
	case *cql.Use:
		if systemKeyspaces[s.Keyspace.Name] != "" {
			c.current = s.Keyspace.Name // objects in it are refused by target
			return nil
		}
		if _, err := c.target(cql.Name{Keyspace: s.Keyspace.Name, Pos: s.Keyspace.Pos}); err != nil {
			return err
		}
		c.current = s.Keyspace.Name
		return nil
	case *cql.CreateType:
		return c.createType(s)
	case *cql.CreateTable:
		return c.createTable(s)
	case *cql.CreateView:
		return c.createView(s)
	case *cql.CreateIndex:
		return c.createIndex(s)
	case *cql.AlterTable:
		return c.alterTable(s)
	case *cql.AlterType:
		return c.alterType(s)
	case *cql.Drop:
		return c.drop(s)
	case *cql.CreateFunction:
		// Not checked; recorded so column masks can use it.
		if ks, err := c.target(s.Name); err == nil && ks.function(s.Name.Name) == nil {
			ks.Functions = append(ks.Functions, &Function{Name: s.Name.Name, Return: s.Return.String()})
		}
		return nil
	case *cql.Skipped, nil:
		return nil
	}
	return cql.Errorf(stmt.StmtPos(), "%w: statement %T", ErrUnsupported, stmt)
}

func (c *Catalog) ksName(n cql.Name) string {
	if n.Keyspace != "" {
		return n.Keyspace
	}
	return c.current
}

// target returns the keyspace a statement about the object n works in,
// creating the catalog's entry on first mention. When the schema creates
// its keyspaces (see Build), there is no session keyspace and every
// keyspace used must have been created, as on a server where nothing else
// created them.
func (c *Catalog) target(n cql.Name) (*Keyspace, error) {
	name := c.ksName(n)
	if kind := systemKeyspaces[name]; kind != "" {
		return nil, cql.Errorf(n.Pos, "%w: %s is a %s system keyspace; a schema cannot add to it or change what is in it", ErrSystemKeyspace, cql.QuoteIdent(name), kind)
	}
	if c.createsKeyspaces {
		if name == "" {
			return nil, cql.Errorf(n.Pos, "%w: no keyspace for %s; the schema creates its keyspaces, so qualify the name or USE one first", ErrUnknownKeyspace, cql.QuoteIdent(n.Name))
		}
		if ks := c.Keyspace(name); ks == nil || ks.Pos.Line == 0 {
			return nil, cql.Errorf(n.Pos, "%w %s: the schema creates keyspaces, but not this one", ErrUnknownKeyspace, cql.QuoteIdent(name))
		}
	}
	return c.keyspace(name), nil
}

// systemKeyspaces are the keyspaces every Cassandra 5.0 cluster has
// (SchemaConstants): the local ones nothing may change, and the replicated
// ones whose replication ALTER KEYSPACE may change.
var systemKeyspaces = map[string]string{
	"system": "local", "system_schema": "local", "system_views": "local", "system_virtual_schema": "local",
	"system_auth": "replicated", "system_distributed": "replicated", "system_traces": "replicated",
}

func displayName(ks, name string) string {
	if ks == "" {
		return cql.QuoteIdent(name)
	}
	return cql.QuoteIdent(ks) + "." + cql.QuoteIdent(name)
}

// checkName applies the server's rule for keyspace, table, view and index
// names: word characters [A-Za-z0-9_] (SchemaConstants.isValidCharsName),
// at most 48 for a keyspace (NAME_LENGTH) and 222 for a table or view
// (TABLE_NAME_LENGTH: a directory name of 255 with the table id); Cassandra
// 5.0 does not bound index names. ScyllaDB's docs/cql/ddl.rst allows 192
// characters for keyspace and table names.
func (c *Catalog) checkName(what, name string, pos cql.Position) error {
	limit := 0
	switch {
	case c.opts.Dialect == Scylla && what != "index":
		limit = 192
	case what == "keyspace":
		limit = 48
	case what != "index":
		limit = 222
	}
	if len(name) == 0 {
		return cql.Errorf(pos, "%w: %s name must not be empty", ErrInvalidName, what)
	}
	if limit > 0 && len(name) > limit {
		return cql.Errorf(pos, "%w: %s name %s must have 1 to %d characters (it has %d)", ErrInvalidName, what, cql.QuoteIdent(name), limit, len(name))
	}
	for _, r := range name {
		if !isWordChar(r) {
			return cql.Errorf(pos, "%w: %s name %s may only contain letters, digits and underscores", ErrInvalidName, what, cql.QuoteIdent(name))
		}
	}
	return nil
}

// isWordChar reports whether r matches Java's \w: [A-Za-z0-9_].
func isWordChar(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_'
}

func (c *Catalog) createKeyspace(s *cql.CreateKeyspace) error {
	if err := c.checkName("keyspace", s.Name.Name, s.Name.Pos); err != nil {
		return err
	}
	switch systemKeyspaces[s.Name.Name] {
	case "local":
		return cql.Errorf(s.Name.Pos, "%w: %s is a local system keyspace, which every node has", ErrSystemKeyspace, cql.QuoteIdent(s.Name.Name))
	case "replicated":
		if s.IfNotExists {
			return nil
		}
		return cql.Errorf(s.Name.Pos, "%w: keyspace %s is a system keyspace, which every cluster has", ErrDuplicate, cql.QuoteIdent(s.Name.Name))
	}
	if ks := c.Keyspace(s.Name.Name); ks != nil && ks.Pos.Line != 0 {
		if s.IfNotExists {
			return nil
		}
		return cql.Errorf(s.Name.Pos, "%w: keyspace %s was created at %s", ErrDuplicate, cql.QuoteIdent(s.Name.Name), ks.Pos)
	}
	if err := c.checkKeyspaceOptions(s.Options, true, s.Name.Pos); err != nil {
		return err
	}
	ks := c.keyspace(s.Name.Name)
	ks.Pos = s.Name.Pos
	ks.Options = s.Options
	return nil
}

// checkKeyspaceOptions validates CREATE or ALTER KEYSPACE options.
func (c *Catalog) checkKeyspaceOptions(opts []cql.Option, create bool, pos cql.Position) error {
	if err := c.checkOptions(opts, c.keyspaceRules(), "keyspace", scyllaOnlyKeyspace); err != nil {
		return err
	}
	if create && c.opts.Dialect != Scylla && !slices.ContainsFunc(opts, func(o cql.Option) bool { return o.Name == "replication" }) {
		return cql.Errorf(pos, "%w: missing mandatory option replication", ErrInvalidOption)
	}
	return nil
}

func (c *Catalog) alterKeyspace(s *cql.AlterKeyspace) error {
	switch systemKeyspaces[s.Name.Name] {
	case "local":
		return cql.Errorf(s.Name.Pos, "%w: %s is a local system keyspace, which cannot be altered", ErrSystemKeyspace, cql.QuoteIdent(s.Name.Name))
	case "replicated":
		// Its replication is the cluster's business, not the schema's
		// shape: checked, not recorded.
		return c.checkKeyspaceOptions(s.Options, false, s.Name.Pos)
	}
	ks := c.Keyspace(s.Name.Name)
	if ks == nil || c.createsKeyspaces && ks.Pos.Line == 0 {
		if s.IfExists {
			return nil
		}
		if !c.createsKeyspaces {
			// A keyspace created outside the schema.
			if err := c.checkKeyspaceOptions(s.Options, false, s.Name.Pos); err != nil {
				return err
			}
			c.keyspace(s.Name.Name)
			return nil
		}
		return cql.Errorf(s.Name.Pos, "%w %s", ErrUnknownKeyspace, cql.QuoteIdent(s.Name.Name))
	}
	if err := c.checkKeyspaceOptions(s.Options, false, s.Name.Pos); err != nil {
		return err
	}
	ks.Options = mergeOptions(ks.Options, s.Options)
	return nil
}

func (c *Catalog) createType(s *cql.CreateType) error {
	ks, err := c.target(s.Name)
	if err != nil {
		return err
	}
	if prev := ks.Type(s.Name.Name); prev != nil {
		if s.IfNotExists {
			return nil
		}
		return cql.Errorf(s.Name.Pos, "%w: type %s was created at %s", ErrDuplicate, displayName(ks.Name, s.Name.Name), prev.Pos)
	}
	u := &UDT{Keyspace: ks.Name, Name: s.Name.Name, Pos: s.Name.Pos}
	if len(s.Fields) == 0 {
		return cql.Errorf(s.Name.Pos, "%w: type %s has no fields", ErrInvalidType, displayName(ks.Name, s.Name.Name))
	}
	for _, f := range s.Fields {
		if prev := u.Field(f.Name.Name); prev != nil {
			return cql.Errorf(f.Name.Pos, "%w: field %s of type %s is declared twice (first at %s)", ErrDuplicate, cql.QuoteIdent(f.Name.Name), u.Name, prev.Pos)
		}
		if err := c.checkType(ks, f.Type, typeCtx{inUDT: true}); err != nil {
			return err
		}
		u.Fields = append(u.Fields, &Field{Name: f.Name.Name, Type: f.Type, Pos: f.Name.Pos})
	}
	ks.Types = append(ks.Types, u)
	return nil
}

// typeCtx says where a type appears.
type typeCtx struct {
	inKey        bool // primary key column
	inCollection bool // element, key or value of a non-frozen collection
	inUDT        bool // field of a UDT
	nested       bool // inside any collection, tuple or UDT
	frozen       bool // inside frozen<…> or a tuple: frozen implicitly
	mapKeyOrSet  bool // map key or set element
	// inVector marks the element of a vector. Cassandra 5.0 prepares it as
	// a type of its own: it may be a counter, a duration, a non-frozen
	// collection or UDT (VectorType takes any element), wherever the
	// vector is, the primary key included.
	inVector bool
}

// checkType validates t as Cassandra 5.0 prepares a type
// (CQL3Type.Raw.prepare): collections and UDTs inside a frozen collection
// or a tuple are frozen implicitly, and marked so here, so that
// rendering matches system_schema; inside a non-frozen collection they must
// be frozen explicitly.
func (c *Catalog) checkType(ks *Keyspace, t *cql.Type, ctx typeCtx) error {
	if t == nil {
		return nil
	}
	switch t.Kind {
	case cql.TypeCustom:
		return cql.Errorf(t.Pos, "%w: custom type %s", ErrUnsupported, cql.QuoteString(t.Name))
	case cql.TypeNative:
		switch {
		case t.Frozen:
			return cql.Errorf(t.Pos, "%w: frozen<%s>: only collections, tuples and user-defined types can be frozen", ErrInvalidType, t.Name)
		case t.Name == "counter" && ctx.inKey:
			return cql.Errorf(t.Pos, "%w: counter columns cannot be part of the primary key", ErrCounter)
		case t.Name == "counter" && ctx.inUDT:
			return cql.Errorf(t.Pos, "%w: a user-defined type cannot contain counters", ErrCounter)
		case t.Name == "counter" && ctx.nested:
			return cql.Errorf(t.Pos, "%w: counters are not allowed inside collections, tuples or user-defined types", ErrCounter)
		case t.Name == "duration" && ctx.inKey:
			return cql.Errorf(t.Pos, "%w: duration is not supported in the primary key", ErrInvalidType)
		case t.Name == "duration" && ctx.mapKeyOrSet:
			return cql.Errorf(t.Pos, "%w: durations are not allowed as map keys or set elements", ErrInvalidType)
		}
		return nil
	case cql.TypeList, cql.TypeSet, cql.TypeMap:
		if ctx.frozen {
			t.Frozen = true
		}
		if !t.Frozen {
			switch {
			case ctx.inKey:
				return cql.Errorf(t.Pos, "%w: non-frozen collection %s in the primary key; use frozen<%s>", ErrFrozen, t.Declared(), t.Declared())
			case ctx.inCollection:
				return cql.Errorf(t.Pos, "%w: non-frozen collection %s inside a collection; use frozen<%s>", ErrFrozen, t.Declared(), t.Declared())
			}
		}
		for i, p := range t.Params {
			sub := typeCtx{
				inKey: ctx.inKey, nested: true, inCollection: !t.Frozen, frozen: t.Frozen,
				mapKeyOrSet: t.Kind == cql.TypeSet || t.Kind == cql.TypeMap && i == 0,
			}
			if err := c.checkType(ks, p, sub); err != nil {
				return err
			}
		}
		return nil
	case cql.TypeTuple:
		for _, p := range t.Params {
			if err := c.checkType(ks, p, typeCtx{inKey: ctx.inKey, nested: true, frozen: true}); err != nil {
				return err
			}
		}
		return nil
	case cql.TypeVector:
		// A vector is a value, never multi-cell: Cassandra ignores
		// frozen<vector<…>> (system_schema shows vector<…>), and its
		// element is checked on its own and shown as written.
		t.Frozen = false
		return c.checkType(ks, t.Params[0], typeCtx{inVector: true})
	case cql.TypeUDT:
		if t.Keyspace != "" && t.Keyspace != ks.Name {
			return cql.Errorf(t.Pos, "%w: type %s is in keyspace %s; a table can only use types of its own keyspace", ErrInvalidType, t.Name, t.Keyspace)
		}
		u := ks.Type(t.Name)
		if u == nil {
			return cql.Errorf(t.Pos, "%w %s", ErrUnknownType, displayName(t.Keyspace, t.Name))
		}
		t.Keyspace = "" // always the table's own keyspace; system_schema drops it too
		if ctx.frozen {
			t.Frozen = true
		}
		if ctx.inKey && holdsDuration(ks, t, map[string]bool{}) {
			return cql.Errorf(t.Pos, "%w: duration is not supported in the primary key, and type %s holds one", ErrInvalidType, cql.QuoteIdent(t.Name))
		}
		if !t.Frozen && !ctx.inVector {
			switch {
			case ctx.inKey:
				return cql.Errorf(t.Pos, "%w: non-frozen type %s in the primary key; use frozen<%s>", ErrFrozen, t.Name, cql.QuoteIdent(t.Name))
			case ctx.inCollection:
				return cql.Errorf(t.Pos, "%w: non-frozen type %s inside a collection; use frozen<%s>", ErrFrozen, t.Name, cql.QuoteIdent(t.Name))
			case ctx.inUDT:
				return cql.Errorf(t.Pos, "%w: non-frozen type %s inside a user-defined type; use frozen<%s>", ErrFrozen, t.Name, cql.QuoteIdent(t.Name))
			}
			for _, f := range u.Fields {
				if k := f.Type.Kind; (k == cql.TypeList || k == cql.TypeSet || k == cql.TypeMap) && !f.Type.Frozen {
					return cql.Errorf(t.Pos, "%w: non-frozen type %s has the non-frozen collection field %s; use frozen<%s>", ErrFrozen, t.Name, f.Name, cql.QuoteIdent(t.Name))
				}
			}
		}
		return nil
	}
	return nil
}

// mergeOptions replaces options of the same name and appends new ones.
func mergeOptions(old, add []cql.Option) []cql.Option {
	out := slices.Clone(old)
	for _, o := range add {
		if i := slices.IndexFunc(out, func(x cql.Option) bool { return x.Name == o.Name }); i >= 0 {
			out[i] = o
		} else {
			out = append(out, o)
		}
	}
	return out
}

func (c *Catalog) createTable(s *cql.CreateTable) error {
	ks, err := c.target(s.Name)
	if err != nil {
		return err
	}
	if prev := ks.Table(s.Name.Name); prev != nil {
		if s.IfNotExists {
			return nil
		}
		return cql.Errorf(s.Name.Pos, "%w: table %s was created at %s", ErrDuplicate, displayName(ks.Name, s.Name.Name), prev.Pos)
	}
	if err := c.checkName("table", s.Name.Name, s.Name.Pos); err != nil {
		return err
	}
	t := &Table{Keyspace: ks.Name, Name: s.Name.Name, Pos: s.Name.Pos, CompactStorage: s.Options.CompactStorage}
	if len(s.Columns) == 0 {
		return cql.Errorf(s.Name.Pos, "%w: table %s has no columns", ErrPrimaryKey, displayName(ks.Name, t.Name))
	}
	var inline *cql.ColumnDef
	for i := range s.Columns {
		d := &s.Columns[i]
		if prev := t.Column(d.Name.Name); prev != nil {
			return cql.Errorf(d.Name.Pos, "%w: column %s is declared twice (first at %s)", ErrDuplicate, cql.QuoteIdent(d.Name.Name), prev.Pos)
		}
		if d.PrimaryKey {
			if inline != nil {
				return cql.Errorf(d.KeyPos, "%w: more than one PRIMARY KEY (%s is already the key)", ErrPrimaryKey, cql.QuoteIdent(inline.Name.Name))
			}
			inline = d
		}
		kind := Regular
		if d.Static {
			kind = Static
		}
		t.Columns = append(t.Columns, &Column{Name: d.Name.Name, Type: d.Type, Mask: d.Mask, Kind: kind, Position: -1, Pos: d.Name.Pos})
	}
	part, clust := s.PartitionKey, s.Clustering
	switch {
	case inline != nil && s.KeyClause:
		return cql.Errorf(s.KeyPos, "%w: more than one PRIMARY KEY (%s is declared PRIMARY KEY inline)", ErrPrimaryKey, cql.QuoteIdent(inline.Name.Name))
	case inline != nil:
		part = []cql.Ident{inline.Name}
	case !s.KeyClause:
		return cql.Errorf(s.Name.Pos, "%w: table %s has no PRIMARY KEY", ErrPrimaryKey, displayName(ks.Name, t.Name))
	}
	if err := setKey(t, part, clust); err != nil {
		return err
	}
	for _, col := range t.Columns {
		if err := c.checkType(ks, col.Type, typeCtx{inKey: col.IsKey()}); err != nil {
			return err
		}
		if err := c.checkMask(ks, col.Mask, col.Name, col.Type); err != nil {
			return err
		}
	}
	if err := checkColumns(t, t.Columns); err != nil {
		return err
	}
	for _, d := range s.Columns {
		if !d.TTL {
			continue
		}
		if t.TTLColumn != "" {
			return cql.Errorf(d.TTLPos, "%w: a table has one per-row TTL column, and %s is already it", ErrInvalidType, cql.QuoteIdent(t.TTLColumn))
		}
		if err := c.checkTTLColumn(t, d.Name, d.TTLPos); err != nil {
			return err
		}
		t.TTLColumn = d.Name.Name
	}
	if err := setClusteringOrder(t, s.Options); err != nil {
		return err
	}
	if err := c.checkOptions(s.Options.Options, c.tableRules(), "table", scyllaOnlyTable); err != nil {
		return err
	}
	if err := checkTableParams(t, s.Options.Options, s.Name.Pos); err != nil {
		return err
	}
	t.Options = s.Options.Options
	ks.Tables = append(ks.Tables, t)
	return nil
}

// setKey marks the key columns of t.
func setKey(t *Table, part, clust []cql.Ident) error {
	seen := map[string]bool{}
	for i, id := range slices.Concat(part, clust) {
		col := t.Column(id.Name)
		if col == nil {
			return cql.Errorf(id.Pos, "%w: primary key column %s is not declared", ErrUnknownColumn, cql.QuoteIdent(id.Name))
		}
		if seen[id.Name] {
			return cql.Errorf(id.Pos, "%w: column %s appears twice in the primary key", ErrPrimaryKey, cql.QuoteIdent(id.Name))
		}
		seen[id.Name] = true
		if col.Kind == Static {
			return cql.Errorf(id.Pos, "%w: static column %s cannot be part of the primary key", ErrKeyColumn, cql.QuoteIdent(id.Name))
		}
		if i < len(part) {
			col.Kind, col.Position = PartitionKey, i
			t.PartitionKey = append(t.PartitionKey, col)
		} else {
			col.Kind, col.Position = Clustering, i-len(part)
			t.Clustering = append(t.Clustering, col)
		}
	}
	return nil
}

// checkColumns checks static and counter rules for cols, which were added to t.
func checkColumns(t *Table, cols []*Column) error {
	for _, col := range cols {
		if col.Kind == Static && len(t.Clustering) == 0 {
			return cql.Errorf(col.Pos, "%w: %s is static but table %s has no clustering columns", ErrStatic, cql.QuoteIdent(col.Name), cql.QuoteIdent(t.Name))
		}
	}
	// Report at the first column that breaks the rule, in schema order.
	var counter, other *Column
	for _, col := range t.Columns {
		if col.IsKey() {
			continue
		}
		isCounter := col.Type.Kind == cql.TypeNative && col.Type.Name == "counter"
		switch {
		case isCounter && other != nil:
			return cql.Errorf(col.Pos, "%w: counter column %s cannot be mixed with the non-counter column %s", ErrCounter, cql.QuoteIdent(col.Name), cql.QuoteIdent(other.Name))
		case !isCounter && counter != nil:
			return cql.Errorf(col.Pos, "%w: non-counter column %s cannot be mixed with the counter column %s", ErrCounter, cql.QuoteIdent(col.Name), cql.QuoteIdent(counter.Name))
		case isCounter && counter == nil:
			counter = col
		case !isCounter && other == nil:
			other = col
		}
	}
	return nil
}

// setClusteringOrder applies CLUSTERING ORDER BY as Cassandra checks it: the
// listed columns must be the clustering columns, in key order, possibly
// without the last ones.
func setClusteringOrder(t *Table, o cql.TableOptions) error {
	seen := map[string]bool{}
	for i, item := range o.ClusteringOrder {
		col := t.Column(item.Column.Name)
		switch {
		case col == nil:
			return cql.Errorf(item.Column.Pos, "%w: unknown column %s", ErrClusteringOrder, cql.QuoteIdent(item.Column.Name))
		case col.Kind != Clustering:
			return cql.Errorf(item.Column.Pos, "%w: %s is not a clustering column", ErrClusteringOrder, cql.QuoteIdent(col.Name))
		case seen[col.Name]:
			return cql.Errorf(item.Column.Pos, "%w: %s is listed twice", ErrClusteringOrder, cql.QuoteIdent(col.Name))
		case col.Position != i:
			want := t.Clustering[i]
			if slices.ContainsFunc(o.ClusteringOrder, func(x cql.OrderItem) bool { return x.Column.Name == want.Name }) {
				return cql.Errorf(item.Column.Pos, "%w: columns must follow the key order (%s must appear before %s)", ErrClusteringOrder, cql.QuoteIdent(want.Name), cql.QuoteIdent(col.Name))
			}
			return cql.Errorf(item.Column.Pos, "%w: missing CLUSTERING ORDER for column %s", ErrClusteringOrder, cql.QuoteIdent(want.Name))
		}
		seen[col.Name] = true
		col.Desc = item.Desc
	}
	return nil
}

func (c *Catalog) createView(s *cql.CreateView) error {
	ks, err := c.target(s.Name)
	if err != nil {
		return err
	}
	if prev := ks.Table(s.Name.Name); prev != nil {
		if s.IfNotExists {
			return nil
		}
		return cql.Errorf(s.Name.Pos, "%w: %s was created at %s", ErrDuplicate, displayName(ks.Name, s.Name.Name), prev.Pos)
	}
	if err := c.checkName("materialized view", s.Name.Name, s.Name.Pos); err != nil {
		return err
	}
	if s.Base.Keyspace != "" && s.Base.Keyspace != ks.Name {
		return cql.Errorf(s.Base.Pos, "%w: a view must be in the keyspace of its base table", ErrView)
	}
	base := ks.Table(s.Base.Name)
	if base == nil {
		return cql.Errorf(s.Base.Pos, "%w %s", ErrUnknownTable, displayName(ks.Name, s.Base.Name))
	}
	if base.View {
		return cql.Errorf(s.Base.Pos, "%w: %s is a materialized view; a view needs a base table", ErrView, cql.QuoteIdent(base.Name))
	}
	for _, col := range base.Columns {
		if col.Type.Kind == cql.TypeNative && col.Type.Name == "counter" {
			return cql.Errorf(s.Base.Pos, "%w: materialized views are not supported on counter tables", ErrView)
		}
	}
	v := &Table{Keyspace: ks.Name, Name: s.Name.Name, Pos: s.Name.Pos, View: true, Base: base.Name, Where: s.Where, All: s.Columns == nil}
	add := func(id cql.Ident) error {
		col := base.Column(id.Name)
		if col == nil {
			return cql.Errorf(id.Pos, "%w %s in table %s", ErrUnknownColumn, cql.QuoteIdent(id.Name), cql.QuoteIdent(base.Name))
		}
		if v.Column(id.Name) != nil {
			return cql.Errorf(id.Pos, "%w: column %s is selected twice", ErrDuplicate, cql.QuoteIdent(id.Name))
		}
		if col.Kind == Static {
			return cql.Errorf(id.Pos, "%w: static column %s cannot be in a materialized view", ErrView, cql.QuoteIdent(id.Name))
		}
		v.Columns = append(v.Columns, &Column{Name: col.Name, Type: col.Type, Mask: col.Mask, Kind: Regular, Position: -1, Pos: id.Pos})
		return nil
	}
	if s.Columns == nil {
		// SELECT * selects every column, static ones too, which
		// CreateViewStatement then refuses.
		for _, col := range base.Columns {
			if err := add(cql.Ident{Name: col.Name, Pos: s.Pos}); err != nil {
				return err
			}
		}
	}
	for _, id := range s.Columns {
		if err := add(id); err != nil {
			return err
		}
	}
	// The key's columns must be selected (CreateViewStatement).
	for _, id := range slices.Concat(s.PartitionKey, s.Clustering) {
		if v.Column(id.Name) == nil && base.Column(id.Name) != nil {
			return cql.Errorf(id.Pos, "%w: primary key column %s is not selected", ErrView, cql.QuoteIdent(id.Name))
		}
	}
	if err := setKey(v, s.PartitionKey, s.Clustering); err != nil {
		return err
	}
	for _, bk := range slices.Concat(base.PartitionKey, base.Clustering) {
		if vc := v.Column(bk.Name); vc == nil || !vc.IsKey() {
			return cql.Errorf(s.KeyPos, "%w: the primary key must include every primary key column of %s; %s is missing", ErrView, cql.QuoteIdent(base.Name), cql.QuoteIdent(bk.Name))
		}
	}
	extra := 0
	for _, vc := range slices.Concat(v.PartitionKey, v.Clustering) {
		if !base.Column(vc.Name).IsKey() {
			extra++
			if extra > 1 {
				return cql.Errorf(s.KeyPos, "%w: at most one column that is not in the primary key of %s may be in the view's primary key", ErrView, cql.QuoteIdent(base.Name))
			}
		}
		// Restricted: IS NOT NULL, or any restriction of a base key
		// column (k = 1, c > 0); other restrictions of other columns are
		// refused below.
		restricted := slices.ContainsFunc(s.Where, func(r cql.Relation) bool {
			return r.Kind != cql.RelToken && slices.ContainsFunc(r.Columns, func(id cql.Ident) bool { return id.Name == vc.Name })
		})
		if !restricted {
			return cql.Errorf(s.KeyPos, "%w: primary key column %s must be restricted by WHERE %s IS NOT NULL", ErrView, cql.QuoteIdent(vc.Name), cql.QuoteIdent(vc.Name))
		}
		switch bc := base.Column(vc.Name); {
		case isCollection(bc.Type) && !bc.Type.Frozen, bc.Type.Kind == cql.TypeUDT && !bc.Type.Frozen:
			return cql.Errorf(s.KeyPos, "%w: %s, of the non-frozen type %s, cannot be in the view's primary key", ErrView, cql.QuoteIdent(vc.Name), bc.Type.Declared())
		case holdsDuration(ks, bc.Type, map[string]bool{}):
			return cql.Errorf(s.KeyPos, "%w: %s holds a duration, which cannot be in the view's primary key", ErrView, cql.QuoteIdent(vc.Name))
		}
	}
	for _, r := range s.Where {
		for _, id := range r.Columns {
			bc := base.Column(id.Name)
			if bc == nil {
				return cql.Errorf(id.Pos, "%w %s in table %s", ErrUnknownColumn, cql.QuoteIdent(id.Name), cql.QuoteIdent(base.Name))
			}
			if !bc.IsKey() && r.Op != "IS NOT NULL" {
				return cql.Errorf(id.Pos, "%w: %s is not in the primary key of %s and can only be restricted with IS NOT NULL", ErrView, cql.QuoteIdent(id.Name), cql.QuoteIdent(base.Name))
			}
		}
	}
	if gc, ok := optionText(base.Options, "gc_grace_seconds"); ok && gc == "0" {
		return cql.Errorf(s.Base.Pos, "%w: %s has gc_grace_seconds 0, and a view needs it to expire undelivered updates", ErrView, cql.QuoteIdent(base.Name))
	}
	// A view's clustering column keeps its base column's order unless the
	// view's CLUSTERING ORDER BY, which must then list every clustering
	// column, says otherwise.
	for _, vc := range v.Clustering {
		vc.Desc = base.Column(vc.Name).Desc
	}
	if n := len(s.Options.ClusteringOrder); n > 0 && n != len(v.Clustering) {
		return cql.Errorf(s.Options.OrderPos, "%w: CLUSTERING ORDER BY of a materialized view must list every clustering column, in key order", ErrClusteringOrder)
	}
	if err := setClusteringOrder(v, s.Options); err != nil {
		return err
	}
	if s.Options.CompactStorage {
		return cql.Errorf(s.Pos, "%w: materialized views cannot use COMPACT STORAGE", ErrView)
	}
	if err := c.checkOptions(s.Options.Options, c.tableRules(), "table", scyllaOnlyTable); err != nil {
		return err
	}
	if err := checkTableParams(v, s.Options.Options, s.Name.Pos); err != nil {
		return err
	}
	v.Options = s.Options.Options
	ks.Tables = append(ks.Tables, v)
	return nil
}

func (c *Catalog) createIndex(s *cql.CreateIndex) error {
	ks, err := c.target(s.Table)
	if err != nil {
		return err
	}
	t := ks.Table(s.Table.Name)
	if t == nil {
		return cql.Errorf(s.Table.Pos, "%w %s", ErrUnknownTable, displayName(ks.Name, s.Table.Name))
	}
	if t.View {
		return cql.Errorf(s.Table.Pos, "%w: secondary indexes are not supported on materialized views", ErrView)
	}
	if s.Local != nil {
		if c.opts.Dialect != Scylla {
			return cql.Errorf(s.LocalAt, "%w: (partition key, column) is a ScyllaDB local index; generate with -dialect scylla", cql.ErrSyntax)
		}
		if len(s.Local) != len(t.PartitionKey) {
			return cql.Errorf(s.LocalAt, "%w: a local index lists the whole partition key of %s", ErrInvalidType, cql.QuoteIdent(t.Name))
		}
		for i, id := range s.Local {
			if id.Name != t.PartitionKey[i].Name {
				return cql.Errorf(id.Pos, "%w: a local index lists the partition key of %s in order; %s is not its column %d", ErrInvalidType, cql.QuoteIdent(t.Name), cql.QuoteIdent(id.Name), i+1)
			}
		}
	}
	if len(s.Targets) != 1 && !s.Custom {
		return cql.Errorf(s.Pos, "%w: only CUSTOM indexes can have more than one target", ErrInvalidType)
	}
	custom := indexClass(s.Custom, s.Using)
	if custom != "" && c.opts.Dialect != Scylla && !isSAI(custom) && custom != sasiClass {
		return cql.Errorf(s.Pos, "%w: unknown custom index class %s: Cassandra 5.0 ships StorageAttachedIndex ('sai') and %s", ErrInvalidOption, cql.QuoteString(s.Using), sasiClass)
	}
	for _, target := range s.Targets {
		col := t.Column(target.Column.Name)
		if col == nil {
			return cql.Errorf(target.Column.Pos, "%w %s in table %s", ErrUnknownColumn, cql.QuoteIdent(target.Column.Name), cql.QuoteIdent(t.Name))
		}
		if err := checkIndexTarget(t, col, target, custom != ""); err != nil {
			return err
		}
		coll := col.Type.Kind == cql.TypeList || col.Type.Kind == cql.TypeSet || col.Type.Kind == cql.TypeMap
		switch target.Func {
		case "keys", "entries":
			if col.Type.Kind != cql.TypeMap || col.Type.Frozen {
				return cql.Errorf(target.Column.Pos, "%w: %s(%s) needs a non-frozen map column", ErrInvalidType, target.Func, cql.QuoteIdent(col.Name))
			}
		case "values":
			if !coll || col.Type.Frozen {
				return cql.Errorf(target.Column.Pos, "%w: values(%s) needs a non-frozen collection column", ErrInvalidType, cql.QuoteIdent(col.Name))
			}
		case "full":
			if !coll || !col.Type.Frozen {
				return cql.Errorf(target.Column.Pos, "%w: full(%s) needs a frozen collection column", ErrInvalidType, cql.QuoteIdent(col.Name))
			}
		}
	}
	if s.Custom && isSAI(s.Using) {
		if err := checkVectorIndex(t, s); err != nil {
			return err
		}
	}
	if err := checkIndexOptions(t, s, custom); err != nil {
		return err
	}
	name, named := s.Name.Name, s.Name.Name != ""
	if named {
		if err := c.checkName("index", name, s.Name.Pos); err != nil {
			return err
		}
	} else {
		// Cassandra's default name drops non-word characters.
		name = strings.Map(func(r rune) rune {
			if isWordChar(r) {
				return r
			}
			return -1
		}, t.Name+"_"+s.Targets[0].Column.Name+"_idx")
	}
	for _, ix := range ks.Indexes {
		if ix.Name == name {
			if s.IfNotExists {
				return nil
			}
			return cql.Errorf(s.Pos, "%w: index %s was created at %s", ErrDuplicate, cql.QuoteIdent(name), ix.Pos)
		}
	}
	var local []string
	for _, id := range s.Local {
		local = append(local, id.Name)
	}
	ix := &Index{
		Keyspace: ks.Name, Name: name, Named: named, Table: t.Name, Custom: s.Custom, Local: local,
		Targets: s.Targets, Using: s.Using, Options: s.Options, Pos: s.Pos,
	}
	// CreateIndexStatement refuses an index equal to one of the table's in
	// all but its name, and StorageAttachedIndex a second SAI on the same
	// target.
	key := indexKey(t, ix)
	for _, other := range ks.Indexes {
		if other.Table != t.Name {
			continue
		}
		switch {
		case indexKey(t, other) == key:
			if s.IfNotExists {
				return nil
			}
			return cql.Errorf(s.Pos, "%w: index %s is a duplicate of index %s (created at %s)", ErrDuplicate, cql.QuoteIdent(name), cql.QuoteIdent(other.Name), other.Pos)
		case isSAI(custom) && isSAI(indexClass(other.Custom, other.Using)) && indexTargets(t, other) == indexTargets(t, ix):
			return cql.Errorf(s.Pos, "%w: index %s is a second storage-attached index on %s, after %s (created at %s)", ErrDuplicate, cql.QuoteIdent(name), indexTargets(t, ix), cql.QuoteIdent(other.Name), other.Pos)
		}
	}
	ks.Indexes = append(ks.Indexes, ix)
	return nil
}

// checkTTLColumn applies ScyllaDB's rules for the per-row TTL column
// (docs/cql/cql-extensions.md, "Per-row TTL"): a regular column of type
// timestamp, bigint or int; and only in the ScyllaDB dialect.
func (c *Catalog) checkTTLColumn(t *Table, id cql.Ident, pos cql.Position) error {
	if c.opts.Dialect != Scylla {
		return cql.Errorf(pos, "%w: TTL after a column type is ScyllaDB's per-row TTL column; generate with -dialect scylla", cql.ErrSyntax)
	}
	col := t.Column(id.Name)
	switch {
	case col == nil:
		return cql.Errorf(id.Pos, "%w %s in table %s", ErrUnknownColumn, cql.QuoteIdent(id.Name), cql.QuoteIdent(t.Name))
	case col.Kind != Regular:
		return cql.Errorf(id.Pos, "%w: the per-row TTL column must be a regular column; %s is %s", ErrInvalidType, cql.QuoteIdent(col.Name), col.Kind)
	case col.Type.Kind != cql.TypeNative || !slices.Contains([]string{"timestamp", "bigint", "int"}, col.Type.Name):
		return cql.Errorf(id.Pos, "%w: the per-row TTL column must be a timestamp, bigint or int; %s is %s", ErrInvalidType, cql.QuoteIdent(col.Name), col.Type)
	}
	return nil
}

// indexOn returns an index of the table that targets the column, or nil.
func (ks *Keyspace) indexOn(table, column string) *Index {
	for _, ix := range ks.Indexes {
		if ix.Table == table && slices.ContainsFunc(ix.Targets, func(t cql.IndexTarget) bool { return t.Column.Name == column }) {
			return ix
		}
	}
	return nil
}

// fixedLength is the value length of Cassandra's fixed-length native types.
var fixedLength = map[string]int{
	"boolean": 1, "tinyint": 1, "smallint": 2, "int": 4, "float": 4, "date": 4,
	"bigint": 8, "counter": 8, "double": 8, "timestamp": 8, "time": 8, "uuid": 16, "timeuuid": 16,
}

// valueCompatible lists, for a native type, the other native types whose
// values it reads (AbstractType.isValueCompatibleWithInternal).
var valueCompatible = map[string][]string{
	"text": {"ascii"}, "varchar": {"ascii"}, "bigint": {"timestamp"}, "timestamp": {"bigint"}, "uuid": {"timeuuid"},
}

// serializationCompatible is AbstractType.isSerializationCompatibleWith for
// a column added under the name of a dropped one: the same type, or a
// native type that reads the old values and has the same fixed length (a
// blob reads every variable-length value).
func serializationCompatible(now, old *cql.Type) bool {
	if containsUDT(old) {
		// system_schema.dropped_columns keeps a user-defined type as the
		// tuple of its fields, which no type but a blob reads.
		return now.Kind == cql.TypeNative && now.Name == "blob"
	}
	if now.String() == old.String() {
		return true
	}
	if now.Kind != cql.TypeNative || old.Kind == cql.TypeNative && fixedLength[now.Name] != fixedLength[old.Name] {
		return false
	}
	if old.Kind != cql.TypeNative {
		return now.Name == "blob" && (old.Frozen || old.Kind == cql.TypeTuple)
	}
	return now.Name == "blob" || slices.Contains(valueCompatible[now.Name], old.Name)
}

// containsUDT reports whether a type is or holds a user-defined type.
func containsUDT(t *cql.Type) bool {
	return t.Kind == cql.TypeUDT || slices.ContainsFunc(t.Params, containsUDT)
}

// indexOptions returns the WITH OPTIONS map of an index, keys as written.
func indexOptions(s *cql.CreateIndex) []optEntry {
	var out []optEntry
	for _, o := range s.Options {
		if o.Name != "options" || o.Value.Kind != cql.ValueMap {
			continue
		}
		for _, e := range o.Value.Entries {
			k, _ := constantText(e.Key)
			v, _ := constantText(e.Value)
			out = append(out, optEntry{key: k, value: v, pos: e.Key.Pos})
		}
	}
	return out
}

// saiOptions are the options StorageAttachedIndex knows in Cassandra 5.0
// (VALID_OPTIONS), with what each takes: the analysis options of text
// columns, and the vector options of vector columns.
var saiOptions = map[string]string{
	"case_sensitive": "analysis", "normalize": "analysis", "ascii": "analysis",
	"similarity_function": "vector", "optimize_for": "vector",
	"maximum_node_connections": "vector", "construction_beam_width": "vector",
}

// checkIndexOptions applies the option rules of CreateIndexStatement,
// StorageAttachedIndex.validateOptions and SASI's IndexMode.
func checkIndexOptions(t *Table, s *cql.CreateIndex, class string) error {
	opts := indexOptions(s)
	switch {
	case len(opts) == 0:
		return nil
	case class == "":
		return cql.Errorf(opts[0].pos, "%w: a regular (not CUSTOM) index takes no options", ErrInvalidOption)
	case class == sasiClass:
		for _, e := range opts {
			if e.key == "mode" && !slices.Contains([]string{"PREFIX", "CONTAINS", "SPARSE"}, strings.ToUpper(e.value)) {
				return cql.Errorf(e.pos, "%w: SASI mode %s: use PREFIX, CONTAINS or SPARSE", ErrInvalidOption, e.value)
			}
		}
		return nil
	case !isSAI(class) || len(s.Targets) != 1:
		return nil
	}
	target := s.Targets[0]
	col := t.Column(target.Column.Name)
	term := col.Type // the type of the indexed values
	if isCollection(term) && target.Func != "full" && target.Func != "entries" {
		term = term.Params[len(term.Params)-1]
		if target.Func == "keys" {
			term = col.Type.Params[0]
		}
	}
	for _, e := range opts {
		kind, ok := saiOptions[e.key]
		switch {
		case !ok:
			return cql.Errorf(e.pos, "%w: option %s is not understood by StorageAttachedIndex (Cassandra 5.0 knows %s)", ErrInvalidOption, e.key, strings.Join(slices.Sorted(maps.Keys(saiOptions)), ", "))
		case kind == "analysis" && col.IsKey():
			return cql.Errorf(e.pos, "%w: analysis option %s is not supported on the primary key column %s", ErrInvalidOption, e.key, cql.QuoteIdent(col.Name))
		case kind == "analysis" && !(term.Kind == cql.TypeNative && slices.Contains([]string{"text", "varchar", "ascii"}, term.Name)):
			return cql.Errorf(e.pos, "%w: analysis option %s needs text; %s cannot be analyzed", ErrInvalidOption, e.key, term)
		case kind == "analysis" && !isTrueFalse(e.value):
			return cql.Errorf(e.pos, "%w: option %s takes 'true' or 'false', not %q", ErrInvalidOption, e.key, e.value)
		case kind == "vector" && term.Kind != cql.TypeVector:
			return cql.Errorf(e.pos, "%w: vector option %s on %s, which is not a vector", ErrInvalidOption, e.key, term)
		case e.key == "maximum_node_connections" || e.key == "construction_beam_width":
			return cql.Errorf(e.pos, "%w: option %s needs a node started with -Dcassandra.sai.vector.allow_custom_parameters=true", ErrInvalidOption, e.key)
		case e.key == "similarity_function" && !slices.Contains([]string{"COSINE", "EUCLIDEAN", "DOT_PRODUCT"}, strings.ToUpper(e.value)):
			return cql.Errorf(e.pos, "%w: similarity_function %s: use COSINE, EUCLIDEAN or DOT_PRODUCT", ErrInvalidOption, e.value)
		case e.key == "optimize_for" && !slices.Contains([]string{"LATENCY", "RECALL"}, strings.ToUpper(e.value)):
			return cql.Errorf(e.pos, "%w: optimize_for %s: use LATENCY or RECALL", ErrInvalidOption, e.value)
		}
	}
	return nil
}

// sasiClass is the class of Cassandra's SASI indexes; USING needs its full
// name (IndexMetadata's alias for it is never matched).
const sasiClass = "org.apache.cassandra.index.sasi.SASIIndex"

// indexClass returns the class of a custom index, "" for a regular one: USING
// makes an index custom unless it names the regular kind, legacy_local_table
// (CreateIndexStatement.Raw).
func indexClass(custom bool, using string) string {
	switch {
	case using == "" && custom:
		return "?" // CUSTOM without USING: the parser requires USING
	case using == "", strings.EqualFold(using, "legacy_local_table") && !custom:
		return ""
	case isSAI(using):
		return "org.apache.cassandra.index.sai.StorageAttachedIndex"
	}
	return using
}

// indexTargets renders an index's targets as Cassandra records them: a
// non-frozen collection without a function is indexed by its values.
func indexTargets(t *Table, ix *Index) string {
	var parts []string
	for _, target := range ix.Targets {
		fn := target.Func
		if col := t.Column(target.Column.Name); fn == "" && col != nil && isCollection(col.Type) && !col.Type.Frozen {
			fn = "values"
		}
		parts = append(parts, fn+"("+cql.QuoteIdent(target.Column.Name)+")")
	}
	return strings.Join(parts, ", ")
}

// indexKey is what IndexMetadata.equalsWithoutName compares: the kind, the
// targets, the class and the options.
func indexKey(t *Table, ix *Index) string {
	var opts []string
	for _, o := range ix.Options {
		if o.Value.Kind == cql.ValueMap {
			for _, e := range o.Value.Entries {
				k, _ := constantText(e.Key)
				v, _ := constantText(e.Value)
				opts = append(opts, k+"="+v)
			}
		}
	}
	slices.Sort(opts)
	return indexClass(ix.Custom, ix.Using) + "|" + strings.Join(ix.Local, ",") + "|" + indexTargets(t, ix) + "|" + strings.Join(opts, ",")
}

// checkIndexTarget applies CreateIndexStatement.validateIndexTarget's rules
// that do not depend on the target function.
func checkIndexTarget(t *Table, col *Column, target cql.IndexTarget, custom bool) error {
	name := cql.QuoteIdent(col.Name)
	switch {
	case custom && (len(col.Name) > 48 || strings.ContainsFunc(col.Name, func(r rune) bool { return !isWordChar(r) })):
		return cql.Errorf(target.Column.Pos, "%w: a custom index needs a column name of 1 to 48 letters, digits and underscores; %s is not", ErrInvalidType, name)
	case referencesDuration(col.Type):
		return cql.Errorf(target.Column.Pos, "%w: secondary indexes are not supported on %s, a column that holds durations", ErrInvalidType, name)
	case t.CompactStorage && col.Kind != Regular && col.Kind != Static:
		return cql.Errorf(target.Column.Pos, "%w: secondary indexes are not supported on the primary key column %s of a COMPACT STORAGE table", ErrInvalidType, name)
	case t.CompactStorage && len(t.Clustering) > 0:
		return cql.Errorf(target.Column.Pos, "%w: secondary indexes are not supported on %s, the compact value column of a COMPACT STORAGE table", ErrInvalidType, name)
	case col.Kind == PartitionKey && len(t.PartitionKey) == 1:
		return cql.Errorf(target.Column.Pos, "%w: cannot index %s, the only partition key column", ErrInvalidType, name)
	case isCollection(col.Type) && col.Type.Frozen && target.Func != "full":
		return cql.Errorf(target.Column.Pos, "%w: %s is a frozen collection: index it with full(%s)", ErrInvalidType, name, name)
	case col.Type.Kind == cql.TypeUDT && !col.Type.Frozen:
		return cql.Errorf(target.Column.Pos, "%w: secondary indexes are not supported on the non-frozen user-defined type column %s", ErrInvalidType, name)
	}
	return nil
}

// referencesDuration reports whether a type is or holds a duration.
func referencesDuration(t *cql.Type) bool {
	if t.Kind == cql.TypeNative && t.Name == "duration" {
		return true
	}
	return slices.ContainsFunc(t.Params, referencesDuration)
}

func (c *Catalog) views(ks *Keyspace, base string) []*Table {
	var out []*Table
	for _, t := range ks.Tables {
		if t.View && t.Base == base {
			out = append(out, t)
		}
	}
	return out
}

func (c *Catalog) alterTable(s *cql.AlterTable) error {
	ks, err := c.target(s.Name)
	if err != nil {
		return err
	}
	t := ks.Table(s.Name.Name)
	if t == nil {
		if s.IfExists {
			return nil
		}
		return cql.Errorf(s.Name.Pos, "%w %s", ErrUnknownTable, displayName(ks.Name, s.Name.Name))
	}
	if t.View != s.View {
		if t.View {
			return cql.Errorf(s.Name.Pos, "%w: %s is a materialized view; use ALTER MATERIALIZED VIEW", ErrView, cql.QuoteIdent(t.Name))
		}
		return cql.Errorf(s.Name.Pos, "%w: %s is a table, not a materialized view", ErrView, cql.QuoteIdent(t.Name))
	}
	// Work on a copy so a failed statement leaves the catalog unchanged.
	nt := t.clone()
	switch s.Op {
	case cql.AlterAdd:
		var added []*Column
		for _, d := range s.Add {
			if prev := nt.Column(d.Name.Name); prev != nil {
				if s.IfNotExists {
					continue
				}
				return cql.Errorf(d.Name.Pos, "%w: column %s was declared at %s", ErrDuplicate, cql.QuoteIdent(d.Name.Name), prev.Pos)
			}
			if d.TTL && c.opts.Dialect != Scylla {
				return cql.Errorf(d.TTLPos, "%w: TTL after a column type is ScyllaDB's per-row TTL column; generate with -dialect scylla", cql.ErrSyntax)
			} else if d.TTL {
				return cql.Errorf(d.TTLPos, "%w: ScyllaDB documents the per-row TTL column in CREATE TABLE and in ALTER TABLE … TTL col, not in ADD: add the column, then ALTER TABLE %s TTL %s", cql.ErrUnsupported, cql.QuoteIdent(t.Name), cql.QuoteIdent(d.Name.Name))
			}
			kind := Regular
			if d.Static {
				kind = Static
			}
			if err := c.checkType(ks, d.Type, typeCtx{}); err != nil {
				return err
			}
			if err := c.checkMask(ks, d.Mask, d.Name.Name, d.Type); err != nil {
				return err
			}
			col := &Column{Name: d.Name.Name, Type: d.Type, Mask: d.Mask, Kind: kind, Position: -1, Pos: d.Name.Pos}
			if old := nt.dropped[col.Name]; old != nil {
				switch {
				case !serializationCompatible(col.Type, old.Type):
					return cql.Errorf(d.Name.Pos, "%w: cannot add %s of type %s: a column %s of type %s was dropped, and its data cannot be read as the new type", ErrInvalidType, cql.QuoteIdent(col.Name), col.Type, cql.QuoteIdent(col.Name), old.Type)
				case old.Kind != col.Kind:
					return cql.Errorf(d.Name.Pos, "%w: cannot add %s as a %s column: it was dropped as a %s column", ErrInvalidType, cql.QuoteIdent(col.Name), col.Kind, old.Kind)
				case nt.isCounter():
					return cql.Errorf(d.Name.Pos, "%w: cannot add the dropped counter column %s again", ErrCounter, cql.QuoteIdent(col.Name))
				}
			}
			nt.Columns = append(nt.Columns, col)
			added = append(added, col)
		}
		if err := checkColumns(nt, added); err != nil {
			return err
		}
	case cql.AlterDrop:
		for _, id := range s.Drop {
			col := nt.Column(id.Name)
			switch {
			case col == nil && s.DropIfExists:
				continue
			case col == nil:
				return cql.Errorf(id.Pos, "%w %s in table %s", ErrUnknownColumn, cql.QuoteIdent(id.Name), cql.QuoteIdent(t.Name))
			case col.IsKey():
				return cql.Errorf(id.Pos, "%w: cannot drop primary key column %s", ErrKeyColumn, cql.QuoteIdent(id.Name))
			case col.Type.Kind == cql.TypeUDT && !col.Type.Frozen:
				return cql.Errorf(id.Pos, "%w: cannot drop %s, a non-frozen column of user-defined type %s", ErrInvalidType, cql.QuoteIdent(id.Name), cql.QuoteIdent(col.Type.Name))
			}
			if col.Name == nt.TTLColumn {
				return cql.Errorf(id.Pos, "%w: %s is the per-row TTL column of %s; disable it with ALTER TABLE … TTL NULL first (ScyllaDB's docs do not say what DROP does to it)", ErrDependency, cql.QuoteIdent(id.Name), cql.QuoteIdent(t.Name))
			}
			if ix := ks.indexOn(t.Name, col.Name); ix != nil {
				return cql.Errorf(id.Pos, "%w: cannot drop column %s: index %s depends on it", ErrDependency, cql.QuoteIdent(id.Name), cql.QuoteIdent(ix.Name))
			}
			if len(c.views(ks, t.Name)) > 0 {
				return cql.Errorf(id.Pos, "%w: cannot drop column %s of table %s, which has materialized views", ErrDependency, cql.QuoteIdent(id.Name), cql.QuoteIdent(t.Name))
			}
			nt.Columns = slices.DeleteFunc(nt.Columns, func(x *Column) bool { return x == col })
			if nt.dropped == nil {
				nt.dropped = map[string]*Column{}
			}
			nt.dropped[col.Name] = col
		}
	case cql.AlterRename:
		for _, r := range s.Renames {
			col := nt.Column(r.From.Name)
			switch {
			case col == nil && s.DropIfExists:
				continue
			case col == nil:
				return cql.Errorf(r.From.Pos, "%w %s in table %s", ErrUnknownColumn, cql.QuoteIdent(r.From.Name), cql.QuoteIdent(t.Name))
			case !col.IsKey():
				return cql.Errorf(r.From.Pos, "%w: only primary key columns can be renamed, %s is %s", ErrKeyColumn, cql.QuoteIdent(r.From.Name), col.Kind)
			case nt.Column(r.To.Name) != nil:
				return cql.Errorf(r.To.Pos, "%w: column %s", ErrDuplicate, cql.QuoteIdent(r.To.Name))
			}
			col.Name = r.To.Name
		}
	case cql.AlterWith:
		if len(s.Options.ClusteringOrder) > 0 {
			return cql.Errorf(s.Options.OrderPos, "%w: the clustering order cannot be altered", ErrClusteringOrder)
		}
		if s.Options.CompactStorage {
			return cql.Errorf(s.Pos, "%w: COMPACT STORAGE cannot be added to an existing table", ErrUnsupported)
		}
		if err := c.checkOptions(s.Options.Options, c.tableRules(), "table", scyllaOnlyTable); err != nil {
			return err
		}
		if _, ok := optionText(s.Options.Options, "id"); ok {
			return cql.Errorf(s.Pos, "%w: the table id cannot be altered", ErrInvalidOption)
		}
		nt.Options = mergeOptions(nt.Options, s.Options.Options)
		if err := checkTableParams(nt, nt.Options, s.Name.Pos); err != nil {
			return err
		}
		if gc, ok := optionText(nt.Options, "gc_grace_seconds"); ok && gc == "0" && hasOption(s.Options.Options, "gc_grace_seconds") {
			if nt.View {
				return cql.Errorf(s.Name.Pos, "%w: gc_grace_seconds of a materialized view cannot be 0: it is the TTL of undelivered view updates", ErrInvalidOption)
			}
			if len(c.views(ks, t.Name)) > 0 {
				return cql.Errorf(s.Name.Pos, "%w: gc_grace_seconds of the base table of a materialized view cannot be 0: it is the TTL of undelivered view updates", ErrInvalidOption)
			}
		}
	case cql.AlterTTL:
		switch {
		case c.opts.Dialect != Scylla:
			return cql.Errorf(s.TTLColumn.Pos, "%w: ALTER TABLE … TTL is ScyllaDB's per-row TTL; generate with -dialect scylla", cql.ErrSyntax)
		case s.TTLColumn.Name == "" && nt.TTLColumn == "":
			return cql.Errorf(s.TTLColumn.Pos, "%w: TTL NULL on %s, which has no per-row TTL column", ErrInvalidType, cql.QuoteIdent(t.Name))
		case s.TTLColumn.Name != "" && nt.TTLColumn != "":
			return cql.Errorf(s.TTLColumn.Pos, "%w: %s already has the per-row TTL column %s; disable it with TTL NULL first", ErrInvalidType, cql.QuoteIdent(t.Name), cql.QuoteIdent(nt.TTLColumn))
		case s.TTLColumn.Name != "":
			if err := c.checkTTLColumn(nt, s.TTLColumn, s.TTLColumn.Pos); err != nil {
				return err
			}
		}
		nt.TTLColumn = s.TTLColumn.Name
	case cql.AlterDropCompactStorage:
		if !nt.CompactStorage {
			return cql.Errorf(s.Pos, "%w: DROP COMPACT STORAGE on %s, a table without COMPACT STORAGE", ErrInvalidOption, cql.QuoteIdent(t.Name))
		}
		// The table's internal columns become columns of its own.
		cols := nt.SystemColumns()
		if slices.ContainsFunc(cols, func(c *Column) bool { return c.Type.Name == "empty" }) {
			return cql.Errorf(s.Pos, "%w: DROP COMPACT STORAGE on %s would reveal a value column of type empty, which has no Go type", cql.ErrUnsupported, cql.QuoteIdent(t.Name))
		}
		nt.Columns, nt.Clustering = cols, nil
		for _, c := range cols {
			if c.Kind == Clustering {
				nt.Clustering = append(nt.Clustering, c)
			}
		}
		nt.PartitionKey = slices.DeleteFunc(slices.Clone(cols), func(c *Column) bool { return c.Kind != PartitionKey })
		slices.SortFunc(nt.PartitionKey, func(a, b *Column) int { return a.Position - b.Position })
		nt.CompactStorage = false
	case cql.AlterMask:
		col := nt.Column(s.MaskColumn.Name)
		if col == nil {
			if s.DropIfExists {
				return nil
			}
			return cql.Errorf(s.MaskColumn.Pos, "%w %s in table %s", ErrUnknownColumn, cql.QuoteIdent(s.MaskColumn.Name), cql.QuoteIdent(t.Name))
		}
		if err := c.checkMask(ks, s.Mask, col.Name, col.Type); err != nil {
			return err
		}
		col.Mask = s.Mask
	}
	*t = *nt
	if s.Op == cql.AlterMask {
		// Views keep their base table's masks.
		for _, v := range c.views(ks, t.Name) {
			if col := v.Column(s.MaskColumn.Name); col != nil {
				col.Mask = s.Mask
			}
		}
	}
	if s.Op == cql.AlterAdd {
		for _, v := range c.views(ks, t.Name) {
			for _, col := range t.Columns {
				if v.All && v.Column(col.Name) == nil {
					v.Columns = append(v.Columns, &Column{Name: col.Name, Type: col.Type, Mask: col.Mask, Kind: Regular, Position: -1, Pos: col.Pos})
				}
			}
		}
	}
	if s.Op == cql.AlterRename {
		for _, v := range c.views(ks, t.Name) {
			for _, r := range s.Renames {
				if col := v.Column(r.From.Name); col != nil {
					col.Name = r.To.Name
				}
			}
			// The view's WHERE clause names the columns by their new names.
			where := slices.Clone(v.Where)
			for i, rel := range where {
				cols := slices.Clone(rel.Columns)
				for j, id := range cols {
					for _, r := range s.Renames {
						if id.Name == r.From.Name {
							cols[j].Name = r.To.Name
						}
					}
				}
				where[i].Columns = cols
			}
			v.Where = where
		}
	}
	return nil
}

// clone copies the table deeply enough for alterTable.
func (t *Table) clone() *Table {
	nt := *t
	nt.Columns = make([]*Column, len(t.Columns))
	m := map[*Column]*Column{}
	for i, c := range t.Columns {
		cc := *c
		nt.Columns[i] = &cc
		m[c] = &cc
	}
	nt.PartitionKey = make([]*Column, len(t.PartitionKey))
	for i, c := range t.PartitionKey {
		nt.PartitionKey[i] = m[c]
	}
	nt.Clustering = make([]*Column, len(t.Clustering))
	for i, c := range t.Clustering {
		nt.Clustering[i] = m[c]
	}
	nt.Options = slices.Clone(t.Options)
	nt.dropped = maps.Clone(t.dropped)
	return &nt
}

func (c *Catalog) alterType(s *cql.AlterType) error {
	ks, err := c.target(s.Name)
	if err != nil {
		return err
	}
	u := ks.Type(s.Name.Name)
	if u == nil {
		if s.IfExists {
			return nil
		}
		return cql.Errorf(s.Name.Pos, "%w %s", ErrUnknownType, displayName(ks.Name, s.Name.Name))
	}
	switch s.Op {
	case cql.AlterAdd:
		for _, f := range s.Add {
			if prev := u.Field(f.Name.Name); prev != nil {
				if s.IfNotExists {
					continue
				}
				return cql.Errorf(f.Name.Pos, "%w: field %s was declared at %s", ErrDuplicate, cql.QuoteIdent(f.Name.Name), prev.Pos)
			}
			if err := c.checkType(ks, f.Type, typeCtx{inUDT: true}); err != nil {
				return err
			}
			if refersTo(ks, f.Type, u.Name, map[string]bool{}) {
				return cql.Errorf(f.Type.Pos, "%w: field %s of type %s would create a circular reference", ErrInvalidType, cql.QuoteIdent(f.Name.Name), cql.QuoteIdent(u.Name))
			}
			// A partition key's bytes would change with a new field
			// (AlterTypeStatement.AddField).
			for _, t := range ks.Tables {
				if slices.ContainsFunc(t.PartitionKey, func(c *Column) bool { return refersTo(ks, c.Type, u.Name, map[string]bool{}) }) {
					return cql.Errorf(f.Name.Pos, "%w: cannot add field %s to type %s: the partition key of %s uses the type", ErrDependency, cql.QuoteIdent(f.Name.Name), cql.QuoteIdent(u.Name), cql.QuoteIdent(t.Name))
				}
			}
			u.Fields = append(u.Fields, &Field{Name: f.Name.Name, Type: f.Type, Pos: f.Name.Pos})
		}
	case cql.AlterRename:
		renamed := map[*Field]string{}
		for _, r := range s.Renames {
			f := u.Field(r.From.Name)
			switch {
			case f == nil && s.FieldExists:
				continue
			case f == nil:
				return cql.Errorf(r.From.Pos, "%w: type %s has no field %s", ErrUnknownColumn, cql.QuoteIdent(u.Name), cql.QuoteIdent(r.From.Name))
			case u.Field(r.To.Name) != nil:
				return cql.Errorf(r.To.Pos, "%w: field %s", ErrDuplicate, cql.QuoteIdent(r.To.Name))
			}
			renamed[f] = r.To.Name
		}
		for f, name := range renamed {
			f.Name = name
		}
	}
	return nil
}

// holdsDuration reports whether t is or holds a duration, through the
// fields of the types it uses but not inside vectors (a vector's element is
// a type of its own).
func holdsDuration(ks *Keyspace, t *cql.Type, seen map[string]bool) bool {
	switch {
	case t == nil || t.Kind == cql.TypeVector:
		return false
	case t.Kind == cql.TypeNative:
		return t.Name == "duration"
	case t.Kind == cql.TypeUDT:
		if seen[t.Name] {
			return false
		}
		seen[t.Name] = true
		u := ks.Type(t.Name)
		return u != nil && slices.ContainsFunc(u.Fields, func(f *Field) bool { return holdsDuration(ks, f.Type, seen) })
	}
	return slices.ContainsFunc(t.Params, func(p *cql.Type) bool { return holdsDuration(ks, p, seen) })
}

// refersTo reports whether t uses the type named target, directly or
// through the fields of the types it uses.
func refersTo(ks *Keyspace, t *cql.Type, target string, seen map[string]bool) bool {
	if t == nil {
		return false
	}
	if t.Kind == cql.TypeUDT {
		if t.Name == target {
			return true
		}
		if seen[t.Name] {
			return false
		}
		seen[t.Name] = true
		if u := ks.Type(t.Name); u != nil {
			for _, f := range u.Fields {
				if refersTo(ks, f.Type, target, seen) {
					return true
				}
			}
		}
		return false
	}
	return slices.ContainsFunc(t.Params, func(p *cql.Type) bool { return refersTo(ks, p, target, seen) })
}

func usesType(t *cql.Type, name string) bool {
	if t == nil {
		return false
	}
	if t.Kind == cql.TypeUDT && t.Name == name {
		return true
	}
	return slices.ContainsFunc(t.Params, func(p *cql.Type) bool { return usesType(p, name) })
}

func (c *Catalog) drop(s *cql.Drop) error {
	if s.Object == cql.ObjectKeyspace {
		if systemKeyspaces[s.Name.Name] != "" {
			return cql.Errorf(s.Name.Pos, "%w: %s is a system keyspace, which cannot be dropped", ErrSystemKeyspace, cql.QuoteIdent(s.Name.Name))
		}
		ks := c.Keyspace(s.Name.Name)
		if ks == nil {
			if s.IfExists {
				return nil
			}
			return cql.Errorf(s.Name.Pos, "%w %s", ErrUnknownKeyspace, cql.QuoteIdent(s.Name.Name))
		}
		c.Keyspaces = slices.DeleteFunc(c.Keyspaces, func(x *Keyspace) bool { return x == ks })
		if c.current == ks.Name {
			c.current = ""
		}
		return nil
	}
	ks, err := c.target(s.Name)
	if err != nil {
		return err
	}
	missing := func(sentinel error) error {
		if s.IfExists {
			return nil
		}
		return cql.Errorf(s.Name.Pos, "%w %s", sentinel, displayName(ks.Name, s.Name.Name))
	}
	switch s.Object {
	case cql.ObjectTable, cql.ObjectView:
		t := ks.Table(s.Name.Name)
		if t == nil {
			return missing(ErrUnknownTable)
		}
		if t.View != (s.Object == cql.ObjectView) {
			return cql.Errorf(s.Name.Pos, "%w: %s is a %s; use DROP %s", ErrView, cql.QuoteIdent(t.Name), kindName(t), strings.ToUpper(kindName(t)))
		}
		if views := c.views(ks, t.Name); len(views) > 0 {
			return cql.Errorf(s.Name.Pos, "%w: table %s has the materialized view %s; drop it first", ErrDependency, cql.QuoteIdent(t.Name), cql.QuoteIdent(views[0].Name))
		}
		ks.Tables = slices.DeleteFunc(ks.Tables, func(x *Table) bool { return x == t })
		ks.Indexes = slices.DeleteFunc(ks.Indexes, func(x *Index) bool { return x.Table == t.Name })
	case cql.ObjectType:
		u := ks.Type(s.Name.Name)
		if u == nil {
			return missing(ErrUnknownType)
		}
		for _, t := range ks.Tables {
			for _, col := range t.Columns {
				if usesType(col.Type, u.Name) {
					return cql.Errorf(s.Name.Pos, "%w: type %s is used by column %s.%s", ErrDependency, cql.QuoteIdent(u.Name), cql.QuoteIdent(t.Name), cql.QuoteIdent(col.Name))
				}
			}
		}
		for _, other := range ks.Types {
			for _, f := range other.Fields {
				if usesType(f.Type, u.Name) {
					return cql.Errorf(s.Name.Pos, "%w: type %s is used by field %s.%s", ErrDependency, cql.QuoteIdent(u.Name), cql.QuoteIdent(other.Name), cql.QuoteIdent(f.Name))
				}
			}
		}
		ks.Types = slices.DeleteFunc(ks.Types, func(x *UDT) bool { return x == u })
	case cql.ObjectIndex:
		i := slices.IndexFunc(ks.Indexes, func(x *Index) bool { return x.Name == s.Name.Name })
		if i < 0 {
			return missing(ErrUnknownIndex)
		}
		ks.Indexes = slices.Delete(ks.Indexes, i, i+1)
	default:
		return cql.Errorf(s.Pos, "%w: DROP %s", ErrUnsupported, s.Object)
	}
	return nil
}

func kindName(t *Table) string {
	if t.View {
		return "materialized view"
	}
	return "table"
}

// isSAI reports whether the class of USING 'class' is Cassandra's
// storage-attached index: its aliases sai and StorageAttachedIndex (in any
// case) or its full class name.
func isSAI(class string) bool {
	switch strings.ToLower(class) {
	case "sai", "storageattachedindex":
		return true
	}
	return class == "org.apache.cassandra.index.sai.StorageAttachedIndex"
}

// checkVectorIndex applies the vector rules of Cassandra 5.0's
// StorageAttachedIndex: an index on a vector column needs float elements,
// and the default similarity function, cosine, needs two dimensions or more.
func checkVectorIndex(t *Table, s *cql.CreateIndex) error {
	similarity := "cosine"
	for _, o := range s.Options {
		if o.Name != "options" {
			continue
		}
		for _, e := range o.Value.Entries {
			if strings.EqualFold(e.Key.Text, "similarity_function") {
				similarity = strings.ToLower(e.Value.Text)
			}
		}
	}
	for _, target := range s.Targets {
		col := t.Column(target.Column.Name)
		if col == nil || col.Type.Kind != cql.TypeVector {
			continue
		}
		if elem := col.Type.Params[0]; elem.Kind != cql.TypeNative || elem.Name != "float" {
			return cql.Errorf(target.Column.Pos, "%w: a storage-attached index on vector column %s needs float elements, not %s", ErrInvalidType, cql.QuoteIdent(col.Name), elem)
		}
		if col.Type.Dim == 1 && similarity == "cosine" {
			return cql.Errorf(target.Column.Pos, "%w: cosine similarity (the default similarity_function) is not supported for the single-dimension vector %s", ErrInvalidType, cql.QuoteIdent(col.Name))
		}
	}
	return nil
}
