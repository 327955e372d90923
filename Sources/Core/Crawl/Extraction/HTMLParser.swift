import CLibXML2

/// Parses HTML with libxml2's forgiving HTML parser and copies the result into an `HTMLElement` tree.
///
/// libxml2 pointers live only in this file: the tree handed back is plain Swift.
enum HTMLParser {
    /// Parses `bytes` (any encoding libxml2 knows; UTF-8 unless the page declares otherwise).
    ///
    /// Malformed markup is repaired, never rejected; only input that yields no document at all throws.
    static func parse(_ bytes: [UInt8]) throws -> HTMLElement {
        guard bytes.count < Int(Int32.max) else { throw TwinError.invalidInput("the input is too large to parse (2 GiB or more)") }
        let encoding = declaredCharset(in: bytes) ?? "UTF-8"
        let options = Int32(HTML_PARSE_RECOVER.rawValue | HTML_PARSE_NOERROR.rawValue | HTML_PARSE_NOWARNING.rawValue
            | HTML_PARSE_NONET.rawValue | HTML_PARSE_NOBLANKS.rawValue | HTML_PARSE_COMPACT.rawValue)
        var document = bytes.withUnsafeBufferPointer { buffer -> htmlDocPtr? in
            buffer.baseAddress?.withMemoryRebound(to: CChar.self, capacity: buffer.count) { base in
                htmlReadMemory(base, Int32(buffer.count), nil, encoding, options)
            }
        }
        if document == nil, encoding != "UTF-8" {
            // An encoding name libxml2 does not know: fall back to UTF-8 rather than failing the page.
            document = bytes.withUnsafeBufferPointer { buffer -> htmlDocPtr? in
                buffer.baseAddress?.withMemoryRebound(to: CChar.self, capacity: buffer.count) { base in
                    htmlReadMemory(base, Int32(buffer.count), nil, "UTF-8", options)
                }
            }
        }
        guard let document else { throw TwinError.invalidInput("the input is not parseable HTML") }
        defer { xmlFreeDoc(document) }
        let root = HTMLElement(tag: "#document", attributes: [])
        copyChildren(of: UnsafeMutablePointer(mutating: document).withMemoryRebound(to: xmlNode.self, capacity: 1) {
            $0.pointee.children
        }, into: root, depth: 0)
        return root
    }

    /// Nesting past this depth is flattened: pathological pages must not blow the stack.
    private static let maximumDepth = 400

    private static func copyChildren(of first: xmlNodePtr?, into parent: HTMLElement, depth: Int) {
        var node = first
        while let current = node {
            switch current.pointee.type {
            case XML_ELEMENT_NODE:
                let tag = current.pointee.name.map { String(cString: $0).lowercased() } ?? ""
                let element = HTMLElement(tag: tag, attributes: attributes(of: current))
                element.parent = parent
                parent.children.append(.element(element))
                if depth < maximumDepth {
                    copyChildren(of: current.pointee.children, into: element, depth: depth + 1)
                } else {
                    copyChildren(of: current.pointee.children, into: parent, depth: depth)
                }
            case XML_TEXT_NODE, XML_CDATA_SECTION_NODE:
                if let content = current.pointee.content {
                    parent.children.append(.text(String(cString: content)))
                }
            default:
                break
            }
            node = current.pointee.next
        }
    }

    private static func attributes(of node: xmlNodePtr) -> [(name: String, value: String)] {
        var result: [(name: String, value: String)] = []
        var attribute = node.pointee.properties
        while let current = attribute {
            if let name = current.pointee.name {
                var value = ""
                var child = current.pointee.children
                while let text = child {
                    if let content = text.pointee.content { value += String(cString: content) }
                    child = text.pointee.next
                }
                result.append((String(cString: name).lowercased(), value))
            }
            attribute = current.pointee.next
        }
        return result
    }

    /// The charset a page declares in its first bytes (`<meta charset>` or `http-equiv`), if any.
    static func declaredCharset(in bytes: [UInt8]) -> String? {
        let head = String(decoding: bytes.prefix(4096), as: UTF8.self).lowercased()
        guard let range = head.range(of: "charset=") else { return nil }
        var name = ""
        for character in head[range.upperBound...] {
            if character == "\"" || character == "'" { if name.isEmpty { continue } else { break } }
            if character.isLetter || character.isNumber || character == "-" || character == "_" {
                name.append(character)
            } else {
                break
            }
        }
        return name.isEmpty ? nil : name.uppercased()
    }
}
