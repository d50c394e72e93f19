import KlimavagtCore
import Testing

@Suite("JSON paths")
struct JSONPathTests {
    let document = try! JSONParser.parse(#"""
        {"ENERGY": {"Total": 12.5}, "switch:0": {"aenergy": {"total": 6.5}}, "list": [{"v": 1}, {"v": 2}],
         "odd.name": {"x": 3}}
        """#)

    @Test("members, names with colons, indices, quoted names and the whole document resolve", arguments: [
        ("ENERGY.Total", JSONValue.number(12.5)), ("switch:0.aenergy.total", .number(6.5)), ("list[1].v", .number(2)),
        (#"["odd.name"].x"#, .number(3)), ("$.ENERGY.Total", .number(12.5)),
    ])
    func resolves(path: String, expected: JSONValue) throws {
        let parsed = try #require(JSONPath(path))
        #expect(try parsed.resolve(in: document).get() == expected)
    }

    @Test("$ is the whole document, so a bare number payload can be read")
    func root() throws {
        #expect(try JSONPath("$")!.resolve(in: .number(7)).get() == .number(7))
    }

    @Test("a missing member or index is reported", arguments: ["ENERGY.Power", "list[2].v", "ENERGY.Total.x"])
    func missing(path: String) {
        #expect((try? JSONPath(path)!.resolve(in: document).get()) == nil)
    }

    @Test("malformed paths are refused", arguments: ["", "a..b", ".a", "a.", "a[x]", "a[-1]", #"a["b"#])
    func malformed(path: String) {
        #expect(JSONPath(path) == nil)
    }
}
